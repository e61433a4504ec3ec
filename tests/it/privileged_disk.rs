//! The A/B update applied offline: a disk of `--format disk` on a loop device (with partition
//! nodes, as on a machine), its ESP's files in a folder, `hooks/kiosk-machine/kiosk-update` run with slot A's
//! command line as the running one and the bundle of a second, different build. After it, slot
//! B's partitions carry the new root hash's halves as UUIDs and verify against it, and the ESP
//! holds both UKIs: the running one kept, the new one with boot counting. Needs root and loop
//! devices.

use std::path::Path;
use std::process::Command;

use crate::disk::{build_at, fixture_with, require_tools, run};

/// Detaches the loop device whatever the test's outcome.
struct Loop {
    device: String,
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").args(["-d", &self.device]).status();
    }
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
#[ignore = "privileged: needs root and loop devices"]
fn kiosk_update_writes_slot_b_and_keeps_the_running_uki() {
    require_tools();
    crate::common::tools::require("losetup");
    let first = fixture_with(true, 3);
    build_at(&first, "a.img", "1700000000");
    let second = fixture_with(true, 4);
    build_at(&second, "b.img", "1700000100");
    let a = json(&first.path().join("a.img.manifest.json"));
    let b = json(&second.path().join("b.img.manifest.json"));
    let new_hash = b["verity"]["root_hash"].as_str().unwrap().to_owned();
    assert_ne!(a["verity"]["root_hash"], b["verity"]["root_hash"]);

    let scratch = tempfile::tempdir().unwrap();
    let disk = scratch.path().join("disk.img");
    std::fs::copy(first.path().join("a.img"), &disk).unwrap();
    let cmdline = scratch.path().join("cmdline");
    std::fs::write(
        &cmdline,
        format!(
            "BOOT_IMAGE=x {}\n",
            a["disk"]["uki"]["command_line"].as_str().unwrap()
        ),
    )
    .unwrap();
    let device = String::from_utf8(run(Command::new("losetup")
        .args(["--find", "--show", "--partscan"])
        .arg(&disk)))
    .unwrap()
    .trim()
    .to_owned();
    let attached = Loop {
        device: device.clone(),
    };
    // udev may be slow to make the partition nodes (or absent: then the kernel's are used).
    for _ in 0..50 {
        if Path::new(&format!("{device}p5")).exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // The ESP's files in a folder (`--esp`): this host's kernel may have no vfat to mount it
    // (the machine's script mounts its ESP itself).
    let esp = scratch.path().join("esp");
    std::fs::create_dir(&esp).unwrap();
    let esp_image = scratch.path().join("esp.img");
    let esp_part = &json(&first.path().join("a.img.manifest.json"))["disk"]["partitions"][0];
    {
        use std::io::{Read, Seek, SeekFrom};
        let mut file = std::fs::File::open(&disk).unwrap();
        file.seek(SeekFrom::Start(esp_part["offset"].as_u64().unwrap()))
            .unwrap();
        let mut bytes = vec![0u8; esp_part["bytes"].as_u64().unwrap() as usize];
        file.read_exact(&mut bytes).unwrap();
        std::fs::write(&esp_image, bytes).unwrap();
    }
    run(Command::new("mcopy")
        .env("MTOOLS_SKIP_CHECK", "1")
        .args(["-s", "-i"])
        .arg(&esp_image)
        .args(["::/EFI", "::/loader"])
        .arg(&esp));

    let script = crate::common::repo_root().join("hooks/kiosk-machine/kiosk-update");
    let out = Command::new("sh")
        .arg(&script)
        .args(["--disk", &device, "--esp"])
        .arg(&esp)
        .arg("--cmdline")
        .arg(&cmdline)
        .arg(second.path().join("b.img.update"))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    // Verified by the script where the partitions have device nodes (udev, devtmpfs), and
    // below in any case.
    assert!(
        said.contains("slot b verifies") || said.contains("not verified"),
        "{said}"
    );

    // Slot B: the new root hash's halves, labelled with the new version, verifying.
    let table: serde_json::Value =
        serde_json::from_slice(&run(Command::new("sfdisk").arg("--json").arg(&device))).unwrap();
    let parts = table["partitiontable"]["partitions"].as_array().unwrap();
    let uuid = |hex: &str| {
        format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        )
        .to_uppercase()
    };
    assert_eq!(parts[3]["uuid"].as_str().unwrap(), uuid(&new_hash[..32]));
    assert_eq!(parts[4]["uuid"].as_str().unwrap(), uuid(&new_hash[32..]));
    assert_eq!(parts[3]["name"], "root-b_1700000100");
    assert_eq!(parts[4]["name"], "root-b-verity_1700000100");
    // Slot A untouched.
    assert_eq!(
        parts[1]["uuid"].as_str().unwrap(),
        uuid(&a["verity"]["root_hash"].as_str().unwrap()[..32])
    );
    let cut = |i: usize, to: &Path| {
        use std::io::{Read, Seek, SeekFrom};
        let mut file = std::fs::File::open(&disk).unwrap();
        file.seek(SeekFrom::Start(parts[i]["start"].as_u64().unwrap() * 512))
            .unwrap();
        let mut bytes = vec![0u8; parts[i]["size"].as_u64().unwrap() as usize * 512];
        file.read_exact(&mut bytes).unwrap();
        std::fs::write(to, bytes).unwrap();
    };
    cut(3, &scratch.path().join("root-b"));
    cut(4, &scratch.path().join("root-b-verity"));
    run(Command::new("veritysetup")
        .arg("verify")
        .arg(scratch.path().join("root-b"))
        .arg(scratch.path().join("root-b-verity"))
        .arg(&new_hash));

    // The ESP: both UKIs, the new one with boot counting and the new root hash.
    let mut ukis: Vec<String> = std::fs::read_dir(esp.join("EFI/Linux"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    ukis.sort();
    assert_eq!(
        ukis,
        ["kiosk_1700000000+3.efi", "kiosk_1700000100+3.efi"],
        "{said}"
    );
    assert_eq!(
        std::fs::read(esp.join("EFI/Linux/kiosk_1700000100+3.efi")).unwrap(),
        std::fs::read(second.path().join("b.img.update/kiosk_1700000100.efi")).unwrap()
    );

    // The same bundle again over the running slot's own: nothing to do. An older bundle: refused.
    std::fs::write(&cmdline, format!("roothash={new_hash}\n")).unwrap();
    let again = Command::new("sh")
        .arg(&script)
        .args(["--disk", &device, "--esp"])
        .arg(&esp)
        .arg("--cmdline")
        .arg(&cmdline)
        .arg(second.path().join("b.img.update"))
        .output()
        .unwrap();
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let older = Command::new("sh")
        .arg(&script)
        .args(["--disk", &device, "--esp"])
        .arg(&esp)
        .arg("--cmdline")
        .arg(&cmdline)
        .arg(first.path().join("a.img.update"))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&older.stderr);
    assert!(!older.status.success(), "{said}");
    assert!(said.contains("not newer"), "{said}");
    drop(attached);
}
