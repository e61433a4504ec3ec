//! Synthetic `.deb` files written from raw bytes: ar members and tar headers are built here, not
//! by a library, so that tests can also write what a library refuses to (`..` names, absolute
//! links, device nodes, bad checksums).

use std::io::Write;

/// Every member's mtime: fixed, so fixture packages are the same bytes every day.
pub const FIXTURE_MTIME: u64 = 1_600_000_000;

/// One tar member.
#[derive(Debug, Clone)]
pub struct Member {
    pub name: Vec<u8>,
    pub kind: u8,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub data: Vec<u8>,
    pub link: Vec<u8>,
    /// Overrides the size field (for hardlinks with data, lying sizes).
    pub size: Option<u64>,
}

impl Member {
    pub fn file(name: &str, mode: u32, data: &[u8]) -> Self {
        Member {
            name: name.as_bytes().to_vec(),
            kind: b'0',
            mode,
            uid: 0,
            gid: 0,
            data: data.to_vec(),
            link: Vec::new(),
            size: None,
        }
    }

    pub fn dir(name: &str, mode: u32) -> Self {
        Member {
            kind: b'5',
            ..Member::file(name, mode, b"")
        }
    }

    pub fn symlink(name: &str, target: &str) -> Self {
        Member {
            kind: b'2',
            link: target.as_bytes().to_vec(),
            ..Member::file(name, 0o777, b"")
        }
    }

    pub fn hardlink(name: &str, target: &str) -> Self {
        Member {
            kind: b'1',
            link: target.as_bytes().to_vec(),
            ..Member::file(name, 0o644, b"")
        }
    }
}

fn octal(field: &mut [u8], value: u64) {
    let width = field.len() - 1;
    let text = format!("{value:0width$o}");
    field[..width].copy_from_slice(&text.as_bytes()[text.len() - width..]);
    field[width] = 0;
}

/// A ustar header for `member` (names up to 100 bytes, or split into prefix + name).
pub fn header(member: &Member) -> [u8; 512] {
    let mut h = [0u8; 512];
    let name = &member.name;
    if name.len() <= 100 {
        h[..name.len()].copy_from_slice(name);
    } else {
        let split = name[..name.len().min(156)]
            .iter()
            .rposition(|&b| b == b'/')
            .filter(|&i| name.len() - i - 1 <= 100)
            .expect("name fits ustar prefix + name");
        h[345..345 + split].copy_from_slice(&name[..split]);
        h[..name.len() - split - 1].copy_from_slice(&name[split + 1..]);
    }
    octal(&mut h[100..108], u64::from(member.mode));
    octal(&mut h[108..116], u64::from(member.uid));
    octal(&mut h[116..124], u64::from(member.gid));
    octal(
        &mut h[124..136],
        member.size.unwrap_or(member.data.len() as u64),
    );
    octal(&mut h[136..148], FIXTURE_MTIME);
    h[156] = member.kind;
    h[157..157 + member.link.len()].copy_from_slice(&member.link);
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[265..269].copy_from_slice(b"root");
    h[297..301].copy_from_slice(b"root");
    h[148..156].copy_from_slice(b"        ");
    let checksum: u64 = h.iter().map(|&b| u64::from(b)).sum();
    octal(&mut h[148..155], checksum);
    h[155] = b' ';
    h
}

/// A tar archive of `members`, with the two zero blocks at the end.
pub fn tar(members: &[Member]) -> Vec<u8> {
    let mut out = Vec::new();
    for member in members {
        out.extend_from_slice(&header(member));
        out.extend_from_slice(&member.data);
        let pad = (512 - member.data.len() % 512) % 512;
        out.extend(std::iter::repeat_n(0u8, pad));
    }
    out.extend(std::iter::repeat_n(0u8, 1024));
    out
}

pub fn xz(data: &[u8]) -> Vec<u8> {
    let mut encoder = liblzma::write::XzEncoder::new(Vec::new(), 6);
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

pub fn gz(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// An ar archive of `(name, data)` members (common format, as dpkg writes it).
pub fn ar(members: &[(&str, Vec<u8>)]) -> Vec<u8> {
    ar_at(members, FIXTURE_MTIME)
}

/// An ar archive whose headers give `mtime`, as dpkg-deb writes the package's
/// `SOURCE_DATE_EPOCH` there: the package's build time.
pub fn ar_at(members: &[(&str, Vec<u8>)], mtime: u64) -> Vec<u8> {
    let mut out = b"!<arch>\n".to_vec();
    for (name, data) in members {
        let header = format!(
            "{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
            name,
            mtime,
            0,
            0,
            "100644",
            data.len()
        );
        assert_eq!(header.len(), 60);
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        if data.len() % 2 == 1 {
            out.push(b'\n');
        }
    }
    out
}

/// A fixture package.
#[derive(Debug, Clone)]
pub struct Package {
    pub name: String,
    pub version: String,
    pub arch: String,
    /// Control fields after Package/Version/Architecture, in order (Depends, Essential...).
    pub fields: Vec<(String, String)>,
    /// Members of data.tar (directories of files are added automatically).
    pub files: Vec<Member>,
    /// Maintainer scripts and other control members (`postinst`, `conffiles`...).
    pub control_files: Vec<(String, String, u32)>,
    /// The `.deb` bytes served instead of the built ones (hand-crafted containers); the index
    /// stanza still comes from the fields above and the hash from these bytes.
    pub raw_deb: Option<Vec<u8>>,
    /// The build time in the ar headers ([`ar_at`]).
    pub built: u64,
}

impl Package {
    pub fn new(name: &str, version: &str) -> Self {
        Package {
            name: name.to_owned(),
            version: version.to_owned(),
            arch: "amd64".to_owned(),
            fields: Vec::new(),
            files: Vec::new(),
            control_files: Vec::new(),
            raw_deb: None,
            built: FIXTURE_MTIME,
        }
    }

    /// Built at `seconds`: the time dpkg-deb writes in the ar headers.
    pub fn built(mut self, seconds: u64) -> Self {
        self.built = seconds;
        self
    }

    /// Serves `bytes` as this package's `.deb`.
    pub fn raw_deb(mut self, bytes: Vec<u8>) -> Self {
        self.raw_deb = Some(bytes);
        self
    }

    pub fn arch(mut self, arch: &str) -> Self {
        self.arch = arch.to_owned();
        self
    }

    pub fn field(mut self, name: &str, value: &str) -> Self {
        self.fields.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn depends(self, value: &str) -> Self {
        self.field("Depends", value)
    }

    pub fn essential(self) -> Self {
        self.field("Essential", "yes").field("Priority", "required")
    }

    pub fn priority(self, priority: &str) -> Self {
        self.field("Priority", priority)
    }

    pub fn file(mut self, path: &str, data: &str) -> Self {
        self.files.push(Member::file(path, 0o644, data.as_bytes()));
        self
    }

    pub fn member(mut self, member: Member) -> Self {
        self.files.push(member);
        self
    }

    pub fn script(mut self, name: &str, body: &str) -> Self {
        self.control_files
            .push((name.to_owned(), body.to_owned(), 0o755));
        self
    }

    pub fn field_value(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The version without its epoch, as in file names.
    pub fn file_version(&self) -> &str {
        self.version
            .split_once(':')
            .map_or(&self.version, |(_, v)| v)
    }

    /// `pool/main/h/hello/hello_2.10-3_amd64.deb`.
    pub fn pool_path(&self, component: &str) -> String {
        let prefix = if self.name.starts_with("lib") && self.name.len() > 3 {
            &self.name[..4]
        } else {
            &self.name[..1]
        };
        format!(
            "pool/{component}/{prefix}/{}/{}_{}_{}.deb",
            self.name,
            self.name,
            self.file_version(),
            self.arch
        )
    }

    /// The control stanza (without Filename, Size, SHA256).
    pub fn control(&self) -> String {
        let mut text = format!(
            "Package: {}\nVersion: {}\nArchitecture: {}\nMaintainer: debroot tests <tests@test.invalid>\n",
            self.name, self.version, self.arch
        );
        for (name, value) in &self.fields {
            text.push_str(&format!("{name}: {value}\n"));
        }
        text.push_str(&format!("Description: fixture package {}\n", self.name));
        text
    }

    /// The uncompressed `control.tar`: `control`, then the other control members.
    pub fn control_tar(&self) -> Vec<u8> {
        let mut control = vec![
            Member::dir("./", 0o755),
            Member::file("./control", 0o644, self.control().as_bytes()),
        ];
        for (name, body, mode) in &self.control_files {
            control.push(Member::file(&format!("./{name}"), *mode, body.as_bytes()));
        }
        tar(&control)
    }

    /// The `.deb` bytes.
    pub fn deb(&self) -> Vec<u8> {
        if let Some(bytes) = &self.raw_deb {
            return bytes.clone();
        }
        let mut data = vec![Member::dir("./", 0o755)];
        let mut dirs = std::collections::BTreeSet::new();
        for member in &self.files {
            let name = String::from_utf8_lossy(&member.name).into_owned();
            let trimmed = name.trim_start_matches("./").trim_end_matches('/');
            let mut prefix = String::new();
            let parts: Vec<&str> = trimmed.split('/').collect();
            for part in &parts[..parts.len().saturating_sub(1)] {
                prefix.push_str(part);
                prefix.push('/');
                dirs.insert(prefix.clone());
            }
        }
        let explicit: std::collections::BTreeSet<String> = self
            .files
            .iter()
            .filter(|m| m.kind == b'5')
            .map(|m| {
                String::from_utf8_lossy(&m.name)
                    .trim_start_matches("./")
                    .to_owned()
            })
            .collect();
        for dir in dirs {
            if !explicit.contains(&dir) && !explicit.contains(dir.trim_end_matches('/')) {
                data.push(Member::dir(&format!("./{dir}"), 0o755));
            }
        }
        data.extend(self.files.iter().cloned());
        ar_at(
            &[
                ("debian-binary", b"2.0\n".to_vec()),
                ("control.tar.xz", xz(&self.control_tar())),
                ("data.tar.xz", xz(&tar(&data))),
            ],
            self.built,
        )
    }
}
