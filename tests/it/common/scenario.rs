//! Resolver scenarios: tiny universes described in TOML (`tests/scenarios/*.toml`).

use std::collections::BTreeMap;

use debroot::debian::{Architecture, MultiArch, PackageName, Priority, Version};
use debroot::digest::Sha256Digest;
use debroot::profile::{PackageSpec, Variant};
use debroot::repo::packages::{PackageRecord, PackagesIndex, Rejected, RelationTexts};
use debroot::resolve::{self, Request, Requested, Universe};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// What the scenario shows.
    pub description: String,
    /// Native first. Default: amd64.
    #[serde(default)]
    pub architectures: Vec<String>,
    /// Suites in profile order. Default: trixie, trixie-updates, trixie-security.
    #[serde(default)]
    pub suites: Vec<String>,
    pub request: ScenarioRequest,
    #[serde(default)]
    pub package: Vec<ScenarioPackage>,
    /// Stanzas the index rejected: `(package, reason)`.
    #[serde(default)]
    pub rejected: Vec<(String, String)>,
    pub expect: Expect,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ScenarioRequest {
    pub variant: Option<String>,
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
    #[serde(default)]
    pub recommends: bool,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ScenarioPackage {
    pub name: String,
    pub version: String,
    pub arch: Option<String>,
    pub suite: Option<String>,
    pub depends: Option<String>,
    pub pre_depends: Option<String>,
    pub recommends: Option<String>,
    pub conflicts: Option<String>,
    pub breaks: Option<String>,
    pub provides: Option<String>,
    pub multi_arch: Option<String>,
    #[serde(default)]
    pub essential: bool,
    pub priority: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The exact set, as `name version` (`name:arch version` for foreign architectures).
    pub packages: Option<Vec<String>>,
    /// Substrings the error must contain.
    #[serde(default)]
    pub error: Vec<String>,
    /// Package to a substring of its reason.
    #[serde(default)]
    pub why: BTreeMap<String, String>,
    /// Substrings of warnings.
    #[serde(default)]
    pub warnings: Vec<String>,
}

fn record(package: &ScenarioPackage) -> PackageRecord {
    let arch = package.arch.clone().unwrap_or_else(|| "amd64".into());
    let text = |value: &Option<String>| value.as_deref().map(Into::into);
    PackageRecord {
        name: PackageName::parse(&package.name).unwrap(),
        version: Version::parse(&package.version).unwrap(),
        architecture: Architecture::parse(&arch).unwrap(),
        multi_arch: match package.multi_arch.as_deref() {
            None | Some("no") => MultiArch::No,
            Some("same") => MultiArch::Same,
            Some("foreign") => MultiArch::Foreign,
            Some("allowed") => MultiArch::Allowed,
            Some(other) => panic!("multi-arch {other}"),
        },
        essential: package.essential,
        priority: match package.priority.as_deref() {
            Some("required") => Priority::Required,
            Some("important") => Priority::Important,
            Some("standard") => Priority::Standard,
            Some("optional") | None => Priority::Optional,
            Some(_) => Priority::Extra,
        },
        filename: format!("pool/main/{}_{}_{arch}.deb", package.name, package.version).into(),
        size: 1000,
        sha256: Sha256Digest::of(format!("{}{}{arch}", package.name, package.version).as_bytes()),
        relations: RelationTexts {
            pre_depends: text(&package.pre_depends),
            depends: text(&package.depends),
            recommends: text(&package.recommends),
            conflicts: text(&package.conflicts),
            breaks: text(&package.breaks),
            replaces: None,
            provides: text(&package.provides),
        },
        line: 1,
    }
}

/// The universe of a scenario, with its packages in the given order.
pub fn universe(scenario: &Scenario, packages: &[ScenarioPackage]) -> Universe {
    let architectures: Vec<Architecture> = if scenario.architectures.is_empty() {
        vec![Architecture::parse("amd64").unwrap()]
    } else {
        scenario
            .architectures
            .iter()
            .map(|a| Architecture::parse(a).unwrap())
            .collect()
    };
    let suites: Vec<String> = if scenario.suites.is_empty() {
        vec![
            "trixie".into(),
            "trixie-updates".into(),
            "trixie-security".into(),
        ]
    } else {
        scenario.suites.clone()
    };
    let mut indexes: Vec<(String, PackagesIndex)> = suites
        .iter()
        .map(|s| (s.clone(), PackagesIndex::default()))
        .collect();
    for package in packages {
        let suite = package.suite.clone().unwrap_or_else(|| suites[0].clone());
        let index = indexes
            .iter_mut()
            .find(|(s, _)| *s == suite)
            .expect("suite declared");
        index.1.packages.push(record(package));
    }
    for (name, reason) in &scenario.rejected {
        indexes[0].1.rejected.push(Rejected {
            line: 7,
            package: Some(name.clone()),
            reason: reason.clone(),
        });
    }
    Universe::new(&architectures, indexes)
}

pub fn request(scenario: &Scenario) -> Request {
    let variant = match scenario.request.variant.as_deref().unwrap_or("custom") {
        "extract" => Variant::Extract,
        "custom" => Variant::Custom,
        "essential" => Variant::Essential,
        "apt" => Variant::Apt,
        "minbase" | "required" => Variant::Minbase,
        "buildd" => Variant::Buildd,
        "important" | "debootstrap" => Variant::Important,
        "standard" => Variant::Standard,
        other => panic!("variant {other}"),
    };
    Request {
        variant,
        include: scenario
            .request
            .include
            .iter()
            .map(|spec| Requested {
                spec: PackageSpec::parse(spec).unwrap(),
                origin: format!("include `{spec}`"),
            })
            .collect(),
        exclude: scenario
            .request
            .exclude
            .iter()
            .map(|name| PackageName::parse(name).unwrap())
            .collect(),
        recommends: scenario.request.recommends,
    }
}

/// `name version` lines of a resolution, sorted.
pub fn names(universe: &Universe, resolution: &resolve::Resolution) -> Vec<String> {
    let mut names: Vec<String> = resolution
        .packages
        .iter()
        .map(|selected| {
            let entry = universe.entry(selected.entry);
            let name = if entry.arch == *universe.native() {
                entry.record.name.to_string()
            } else {
                format!("{}:{}", entry.record.name, entry.arch)
            };
            format!("{name} {}", entry.record.version)
        })
        .collect();
    names.sort();
    names
}
