//! debroot's pin priorities checked against apt itself (issue 16 item 2): each scenario is a
//! fixture archive (Debian's trixie and trixie-backports, and a vendor repository), resolved by
//! `debroot lock` and by the host's `apt-get install --simulate` with a private configuration
//! reading the same repositories over loopback, and both must choose the same version of every
//! package (or both refuse).
//!
//! What is compared is apt's classic solver (apt 2.6, bookworm's): `pkgPolicy` gives each
//! version the highest priority of the suites it is in (500; 100 for `NotAutomatic` with
//! `ButAutomaticUpgrades`; 1 for `NotAutomatic` alone; an `apt_preferences` pin otherwise), the
//! candidate is the version of highest priority and then highest version, and only candidates
//! are installed, except that `NAME/SUITE` makes that suite's version the candidate and
//! switches a dependency's candidate to that suite's version when the current candidate does not
//! satisfy it (`pkgDepCache::SetCandidateRelease`). apt reads only its own configuration
//! (`APT_CONFIG`, `Dir` in the scenario's folder, an empty dpkg status), so it runs as any user.
//! The test skips, saying so, when `apt-get` is not installed.

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use common::deb::Package;
use common::fixture::Fixture;
use common::keys;
use common::repo::{self, Archive, Signature, Signer, Suite};
use common::stderr;

/// What a resolver chose: package name to version, or why it refused.
type Choice = Result<BTreeMap<String, String>, String>;

/// One comparison: the packages of each suite, the vendor suite's `Release` fields and pin, and
/// what is asked for.
struct Scenario {
    name: &'static str,
    trixie: Vec<Package>,
    backports: Vec<Package>,
    vendor: Vec<Package>,
    /// Extra fields of the vendor suite's `Release` (`NotAutomatic: yes`).
    vendor_release: Vec<&'static str>,
    /// The vendor repository's `priority` (debroot) and pin (apt).
    vendor_priority: Option<i32>,
    include: Vec<&'static str>,
    /// What both must choose (`None`: both must refuse).
    expected: Option<Vec<(&'static str, &'static str)>>,
}

impl Scenario {
    fn new(name: &'static str, include: &[&'static str]) -> Self {
        Scenario {
            name,
            trixie: Vec::new(),
            backports: Vec::new(),
            vendor: Vec::new(),
            vendor_release: Vec::new(),
            vendor_priority: None,
            include: include.to_vec(),
            expected: None,
        }
    }

    fn expect(mut self, chosen: &[(&'static str, &'static str)]) -> Self {
        self.expected = Some(chosen.to_vec());
        self
    }

    fn fixture(&self) -> Fixture {
        let mut suites = repo::trixie(self.trixie.clone());
        suites.push(Suite::new("trixie-backports", self.backports.clone()));
        let mut vendor = Suite::new("stable", self.vendor.clone());
        vendor.archive = Archive::Vendor;
        vendor.suite_field = "stable".into();
        vendor.signatures = vec![Signature::by(Signer::Untrusted)];
        vendor.release_fields = self.vendor_release.iter().map(|f| f.to_string()).collect();
        suites.push(vendor);
        let fixture = Fixture::new(suites);
        let keys = keys::keys();
        std::fs::write(
            fixture.path().join("vendor.gpg"),
            keys::keyring(&[&keys.untrusted]),
        )
        .unwrap();
        fixture
    }

    /// `debroot lock` of an extract-variant profile, and the versions its lock records.
    fn debroot(&self, fixture: &Fixture) -> Choice {
        let priority = self
            .vendor_priority
            .map_or(String::new(), |p| format!("priority = {p}\n"));
        let include: Vec<String> = self.include.iter().map(|i| format!("\"{i}\"")).collect();
        fixture.write_profile(
            "backports = true",
            &format!(
                "[[source.repository]]\nname = \"vendor\"\nurl = \"{}\"\nsuites = [\"stable\"]\nkeyring = \"vendor.gpg\"\n{priority}\n[packages]\nvariant = \"extract\"\ninclude = [{}]\n",
                fixture.server.url("vendor"),
                include.join(", ")
            ),
        );
        let out = fixture.run(&["lock", "p.toml"], &[("SOURCE_DATE_EPOCH", "1700000000")]);
        match out.status.code() {
            Some(0) => {}
            // Unsatisfiable: a refusal to compare with apt's.
            Some(3) => return Err(stderr(&out)),
            _ => panic!("{}: debroot lock failed:\n{}", self.name, stderr(&out)),
        }
        let lock: toml::Table = toml::from_str(&fixture.read("p.lock")).unwrap();
        let packages = lock["package"].as_array().expect("[[package]]");
        Ok(packages
            .iter()
            .map(|p| {
                (
                    p["name"].as_str().unwrap().to_owned(),
                    p["version"].as_str().unwrap().to_owned(),
                )
            })
            .collect())
    }

    /// `apt-get update` and `apt-get install --simulate` on an empty system, with a
    /// configuration of its own (no host configuration is read) and the same repositories and
    /// keyrings as the profile.
    fn apt(&self, fixture: &Fixture) -> Choice {
        let root = fixture.path().join("apt");
        for dir in [
            "etc/apt/apt.conf.d",
            "etc/apt/preferences.d",
            "etc/apt/sources.list.d",
            "var/lib/apt/lists/partial",
            "var/cache/apt/archives/partial",
            "var/lib/dpkg",
            "var/log/apt",
        ] {
            std::fs::create_dir_all(root.join(dir)).unwrap();
        }
        std::fs::write(root.join("var/lib/dpkg/status"), "").unwrap();
        let debian_keyring = fixture.path().join("keyring.gpg");
        let vendor_keyring = fixture.path().join("vendor.gpg");
        let debian = fixture.server.url("debian");
        let security = fixture.server.url("debian-security");
        let vendor = fixture.server.url("vendor");
        let line = |keyring: &Path, url: &str, suite: &str| {
            format!("deb [signed-by={}] {url} {suite} main\n", keyring.display())
        };
        let sources = [
            line(&debian_keyring, &debian, "trixie"),
            line(&debian_keyring, &debian, "trixie-updates"),
            line(&debian_keyring, &security, "trixie-security"),
            line(&debian_keyring, &debian, "trixie-backports"),
            line(&vendor_keyring, &vendor, "stable"),
        ]
        .concat();
        std::fs::write(root.join("etc/apt/sources.list"), sources).unwrap();
        if let Some(priority) = self.vendor_priority {
            // Every fixture suite says `Origin: Debian` and is served from 127.0.0.1: the vendor
            // suite is the only one whose codename is `stable`.
            std::fs::write(
                root.join("etc/apt/preferences.d/vendor.pref"),
                format!("Package: *\nPin: release n=stable\nPin-Priority: {priority}\n"),
            )
            .unwrap();
        }
        let sandbox = if rustix::process::geteuid().is_root() {
            // apt drops to `_apt` to download, which cannot write into a private temp folder.
            "APT::Sandbox::User \"root\";\n"
        } else {
            ""
        };
        let config = format!(
            "Dir \"{}/\";\n\
             Dir::State::status \"{}/var/lib/dpkg/status\";\n\
             APT::Architecture \"amd64\";\n\
             APT::Architectures {{ \"amd64\"; }};\n\
             APT::Install-Recommends \"false\";\n\
             APT::Install-Suggests \"false\";\n\
             Acquire::Languages \"none\";\n\
             Acquire::http::Proxy \"DIRECT\";\n\
             Debug::NoLocking \"true\";\n\
             {sandbox}",
            root.display(),
            root.display()
        );
        let config_path = root.join("apt.conf");
        std::fs::write(&config_path, config).unwrap();
        let apt = |args: &[&str]| -> Output {
            Command::new("apt-get")
                .args(args)
                .env_clear()
                .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
                .env("APT_CONFIG", &config_path)
                .env("LC_ALL", "C")
                .output()
                .expect("apt-get runs")
        };
        let update = apt(&["-q", "update"]);
        let update_err = stderr(&update);
        assert!(
            update.status.success() && !update_err.contains("W: ") && !update_err.contains("E: "),
            "{}: apt-get update failed:\n{}{update_err}",
            self.name,
            common::stdout(&update)
        );
        let mut args = vec!["-q", "--simulate", "install"];
        args.extend(self.include.iter().copied());
        let out = apt(&args);
        eprintln!(
            "{}: apt-get {}:\n{}{}",
            self.name,
            args.join(" "),
            common::stdout(&out),
            stderr(&out)
        );
        if !out.status.success() {
            return Err(format!("{}{}", common::stdout(&out), stderr(&out)));
        }
        Ok(common::stdout(&out)
            .lines()
            .filter_map(|l| l.strip_prefix("Inst "))
            .map(|rest| {
                // `Inst NAME (VERSION ORIGIN:SUITE [ARCH])`
                let (name, rest) = rest.split_once(" (").expect("Inst NAME (VERSION ...)");
                let version = rest.split_whitespace().next().expect("a version");
                (name.to_owned(), version.to_owned())
            })
            .collect())
    }
}

fn apt_available() -> bool {
    Command::new("apt-get")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn compare(scenario: Scenario) {
    let fixture = scenario.fixture();
    let apt = scenario.apt(&fixture);
    let debroot = scenario.debroot(&fixture);
    let name = scenario.name;
    match (&apt, &debroot) {
        (Ok(a), Ok(d)) => assert_eq!(d, a, "{name}: debroot (left) and apt (right) differ"),
        (Err(_), Err(_)) => {}
        _ => panic!("{name}: one refuses and not the other:\napt: {apt:#?}\ndebroot: {debroot:#?}"),
    }
    match scenario.expected {
        Some(expected) => {
            let expected: BTreeMap<String, String> = expected
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect();
            assert_eq!(debroot.as_ref(), Ok(&expected), "{name}");
        }
        None => assert!(debroot.is_err(), "{name}: {debroot:?}"),
    }
    eprintln!("{name}: apt and debroot agree: {debroot:?}");
}

macro_rules! skip_without_apt {
    () => {
        if !apt_available() {
            eprintln!("apt_priorities: skipped: apt-get is not installed, nothing to compare with");
            return;
        }
    };
}

#[test]
fn a_package_only_in_backports_is_installed_from_there() {
    skip_without_apt!();
    let mut s = Scenario::new("backports only", &["extra"]).expect(&[("extra", "3.0~bpo13+1")]);
    s.backports = vec![Package::new("extra", "3.0~bpo13+1")];
    compare(s);
}

#[test]
fn a_newer_backport_loses_to_the_release() {
    skip_without_apt!();
    let mut s = Scenario::new("trixie 1.0 and backports 2.0", &["tool"])
        .expect(&[("tool", "1.0"), ("libfoo", "1.2")]);
    s.trixie = vec![
        Package::new("tool", "1.0").depends("libfoo"),
        Package::new("libfoo", "1.2"),
    ];
    s.backports = vec![
        Package::new("tool", "2.0~bpo13+1").depends("libfoo"),
        Package::new("libfoo", "1.5~bpo13+1"),
    ];
    compare(s);
}

#[test]
fn a_vendor_above_500_wins_with_a_lower_version() {
    skip_without_apt!();
    let mut s = Scenario::new("vendor at 600, lower version", &["tool", "app"]).expect(&[
        ("tool", "0.9"),
        ("app", "1.0"),
        ("libfoo", "1.2"),
    ]);
    s.trixie = vec![Package::new("tool", "1.0"), Package::new("libfoo", "1.2")];
    s.vendor = vec![
        Package::new("tool", "0.9"),
        Package::new("app", "1.0").depends("libfoo (>= 1.0)"),
    ];
    s.vendor_priority = Some(600);
    compare(s);
}

#[test]
fn a_vendor_at_100_loses_with_a_higher_version_but_serves_its_own_packages() {
    skip_without_apt!();
    let mut s = Scenario::new("vendor at 100, higher version", &["tool", "app"]).expect(&[
        ("tool", "1.0"),
        ("app", "1.0"),
        ("libfoo", "1.2"),
    ]);
    s.trixie = vec![Package::new("tool", "1.0"), Package::new("libfoo", "1.2")];
    s.vendor = vec![
        Package::new("tool", "5.0"),
        Package::new("app", "1.0").depends("libfoo (>= 1.0)"),
        Package::new("libfoo", "9.0"),
    ];
    s.vendor_priority = Some(100);
    compare(s);
}

#[test]
fn name_suite_takes_that_suites_dependency_only_where_needed() {
    skip_without_apt!();
    // `tool/trixie-backports` needs libbar >= 2.0~, which only the backport has; its libfoo
    // dependency is met by trixie's candidate, which stays.
    let mut s =
        Scenario::new("name/suite with a dependency", &["tool/trixie-backports"]).expect(&[
            ("tool", "2.0~bpo13+1"),
            ("libbar", "2.0~bpo13+1"),
            ("libfoo", "1.2"),
        ]);
    s.trixie = vec![
        Package::new("tool", "1.0").depends("libbar, libfoo"),
        Package::new("libbar", "1.0"),
        Package::new("libfoo", "1.2"),
    ];
    s.backports = vec![
        Package::new("tool", "2.0~bpo13+1").depends("libbar (>= 2.0~), libfoo (>= 1.0)"),
        Package::new("libbar", "2.0~bpo13+1"),
        Package::new("libfoo", "1.5~bpo13+1"),
    ];
    compare(s);
}

#[test]
fn a_not_automatic_suite_is_priority_1() {
    skip_without_apt!();
    // Like experimental: never chosen over the release, but a package only there is installed,
    // asked for or needed by a dependency.
    let mut s = Scenario::new("NotAutomatic only", &["tool", "exp", "uses-exp"]).expect(&[
        ("tool", "1.0"),
        ("exp", "0.1"),
        ("uses-exp", "1.0"),
        ("libexp", "0.2"),
    ]);
    s.trixie = vec![
        Package::new("tool", "1.0"),
        Package::new("uses-exp", "1.0").depends("libexp"),
    ];
    s.vendor = vec![
        Package::new("tool", "9.0"),
        Package::new("exp", "0.1"),
        Package::new("libexp", "0.2"),
    ];
    s.vendor_release = vec!["NotAutomatic: yes"];
    compare(s);
}

#[test]
fn a_dependency_only_a_lower_priority_version_meets_is_refused_by_both() {
    skip_without_apt!();
    // The candidate of libfoo is the vendor's 1.0 (600); only trixie's 2.0 meets app's
    // dependency, and neither apt's classic solver nor debroot installs a non-candidate.
    let mut s = Scenario::new("dependency only a non-candidate meets", &["app"]);
    s.trixie = vec![Package::new("libfoo", "2.0")];
    s.vendor = vec![
        Package::new("app", "1.0").depends("libfoo (>= 2.0)"),
        Package::new("libfoo", "1.0"),
    ];
    s.vendor_priority = Some(600);
    compare(s);
}

#[test]
fn a_dependency_only_a_backport_meets_needs_name_suite_for_both() {
    skip_without_apt!();
    // Without `name/suite`, the backport is not the candidate of libbar: apt's classic solver
    // does not take it to meet a dependency, and neither does debroot.
    let mut s = Scenario::new("dependency only a backport meets", &["tool"]);
    s.trixie = vec![
        Package::new("tool", "1.0").depends("libbar (>= 2.0~)"),
        Package::new("libbar", "1.0"),
    ];
    s.backports = vec![Package::new("libbar", "2.0~bpo13+1")];
    compare(s);
}

#[test]
fn a_negative_priority_is_never_installed_by_either() {
    skip_without_apt!();
    // The only version of app is in a repository pinned below 0: no candidate for apt, exit 3
    // for debroot.
    let mut s = Scenario::new("vendor at -1", &["app"]);
    s.trixie = vec![Package::new("libfoo", "1.2")];
    s.vendor = vec![Package::new("app", "1.0").depends("libfoo")];
    s.vendor_priority = Some(-1);
    compare(s);
}
