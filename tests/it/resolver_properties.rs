//! Property test of the resolver against an independent validator.
//!
//! Random small universes (a handful of names with one or two versions, or-groups, versioned
//! constraints, virtual names with versioned and unversioned Provides, Conflicts). For each:
//! - an answer satisfies every Depends of every selected package and holds no conflicting pair,
//!   using only candidate versions (checked here, not by the solver);
//! - "unsatisfiable" is only ever said when a brute-force search over every subset of
//!   candidates finds no valid set either.
//!
//! A failing universe is printed as a scenario file, ready to paste into `tests/scenarios/`.

use crate::common;

use std::collections::BTreeMap;

use common::scenario::{self as scenarios, Expect, Scenario, ScenarioPackage, ScenarioRequest};
use debroot::resolve;
use proptest::prelude::*;

const NAMES: [&str; 6] = ["aa", "bb", "cc", "dd", "ee", "ff"];
const VIRTUALS: [&str; 2] = ["vv", "ww"];

#[derive(Debug, Clone)]
struct Alt {
    name: String,
    constraint: Option<(&'static str, u8)>,
}

impl Alt {
    fn text(&self) -> String {
        match self.constraint {
            Some((op, v)) => format!("{} ({op} {v})", self.name),
            None => self.name.clone(),
        }
    }
}

#[derive(Debug, Clone)]
struct Pkg {
    name: String,
    version: u8,
    depends: Vec<Vec<Alt>>,
    conflicts: Vec<Alt>,
    provides: Vec<(String, Option<u8>)>,
}

fn alt() -> impl Strategy<Value = Alt> {
    let name = prop::sample::select(
        NAMES
            .iter()
            .chain(VIRTUALS.iter())
            .copied()
            .collect::<Vec<_>>(),
    );
    let constraint =
        prop::option::weighted(0.3, (prop::sample::select(vec![">=", "<<", "="]), 1u8..=2));
    (name, constraint).prop_map(|(name, constraint)| Alt {
        name: name.to_owned(),
        constraint,
    })
}

fn pkg(name: &'static str, version: u8) -> impl Strategy<Value = Pkg> {
    (
        prop::collection::vec(prop::collection::vec(alt(), 1..=2), 0..=2),
        prop::collection::vec(alt(), 0..=1),
        prop::collection::vec(
            (
                prop::sample::select(VIRTUALS.to_vec()),
                prop::option::of(1u8..=2),
            ),
            0..=1,
        ),
    )
        .prop_map(move |(depends, conflicts, provides)| Pkg {
            name: name.to_owned(),
            version,
            depends,
            conflicts,
            provides: provides
                .into_iter()
                .map(|(v, p)| (v.to_owned(), p))
                .collect(),
        })
}

fn universe() -> impl Strategy<Value = Vec<Pkg>> {
    let per_name: Vec<_> = NAMES
        .iter()
        .map(|&name| {
            prop::collection::vec(prop::bool::ANY, 2).prop_flat_map(move |versions| {
                let mut packages = vec![pkg(name, 1).boxed()];
                if versions[0] {
                    packages.push(pkg(name, 2).boxed());
                }
                packages
            })
        })
        .collect();
    per_name.prop_map(|lists| lists.into_iter().flatten().collect())
}

fn admits(constraint: Option<(&str, u8)>, version: u8) -> bool {
    match constraint {
        None => true,
        Some((">=", v)) => version >= v,
        Some(("<<", v)) => version < v,
        Some(("=", v)) => version == v,
        Some(_) => false,
    }
}

/// Whether `target` satisfies `alt` (the real name, or a Provides; an unversioned Provides does
/// not satisfy a versioned dependency).
fn satisfies(target: &Pkg, alt: &Alt) -> bool {
    (target.name == alt.name && admits(alt.constraint, target.version))
        || target.provides.iter().any(|(name, provided)| {
            name == &alt.name
                && match (alt.constraint, provided) {
                    (None, _) => true,
                    (Some(c), Some(v)) => admits(Some(c), *v),
                    (Some(_), None) => false,
                }
        })
}

/// The independent check of a set (by index into `candidates`).
fn valid(set: &[&Pkg], requested: &[String]) -> Result<(), String> {
    for name in requested {
        if !set.iter().any(|p| &p.name == name) {
            return Err(format!("requested `{name}` is missing"));
        }
    }
    for package in set {
        for group in &package.depends {
            if !group
                .iter()
                .any(|alt| set.iter().any(|t| satisfies(t, alt)))
            {
                let text: Vec<String> = group.iter().map(Alt::text).collect();
                return Err(format!(
                    "{} {}: Depends {} unsatisfied",
                    package.name,
                    package.version,
                    text.join(" | ")
                ));
            }
        }
        for conflict in &package.conflicts {
            if let Some(other) = set
                .iter()
                .find(|t| t.name != package.name && satisfies(t, conflict))
            {
                return Err(format!(
                    "{} conflicts with {} ({})",
                    package.name,
                    other.name,
                    conflict.text()
                ));
            }
        }
    }
    Ok(())
}

/// The candidate of each name: the highest version.
fn candidates(universe: &[Pkg]) -> Vec<&Pkg> {
    let mut best: BTreeMap<&str, &Pkg> = BTreeMap::new();
    for package in universe {
        let entry = best.entry(&package.name).or_insert(package);
        if package.version > entry.version {
            *entry = package;
        }
    }
    best.into_values().collect()
}

fn brute_force_solvable(universe: &[Pkg], requested: &[String]) -> bool {
    let candidates = candidates(universe);
    (0u32..(1 << candidates.len())).any(|mask| {
        let set: Vec<&Pkg> = candidates
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, p)| *p)
            .collect();
        valid(&set, requested).is_ok()
    })
}

fn scenario_packages(universe: &[Pkg]) -> Vec<ScenarioPackage> {
    universe
        .iter()
        .map(|p| ScenarioPackage {
            name: p.name.clone(),
            version: p.version.to_string(),
            arch: None,
            suite: None,
            depends: (!p.depends.is_empty()).then(|| {
                p.depends
                    .iter()
                    .map(|g| g.iter().map(Alt::text).collect::<Vec<_>>().join(" | "))
                    .collect::<Vec<_>>()
                    .join(", ")
            }),
            pre_depends: None,
            recommends: None,
            conflicts: (!p.conflicts.is_empty()).then(|| {
                p.conflicts
                    .iter()
                    .map(Alt::text)
                    .collect::<Vec<_>>()
                    .join(", ")
            }),
            breaks: None,
            provides: (!p.provides.is_empty()).then(|| {
                p.provides
                    .iter()
                    .map(|(n, v)| match v {
                        Some(v) => format!("{n} (= {v})"),
                        None => n.clone(),
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            }),
            multi_arch: None,
            essential: false,
            priority: None,
        })
        .collect()
}

/// The universe as a scenario file.
fn as_scenario(universe: &[Pkg], requested: &[String]) -> String {
    let mut out = format!(
        "description = \"found by tests/it/resolver_properties.rs\"\n[request]\ninclude = {requested:?}\n"
    );
    for p in scenario_packages(universe) {
        out.push_str(&format!(
            "[[package]]\nname = \"{}\"\nversion = \"{}\"\n",
            p.name, p.version
        ));
        for (key, value) in [
            ("depends", &p.depends),
            ("conflicts", &p.conflicts),
            ("provides", &p.provides),
        ] {
            if let Some(value) = value {
                out.push_str(&format!("{key} = \"{value}\"\n"));
            }
        }
    }
    out.push_str("[expect]\npackages = []  # fill in\n");
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn answers_are_valid_and_unsat_is_real(
        universe in universe(),
        requested in prop::collection::btree_set(prop::sample::select(NAMES.to_vec()), 1..=2),
    ) {
        let requested: Vec<String> = requested.into_iter().map(str::to_owned).collect();
        let scenario = Scenario {
            description: String::new(),
            architectures: Vec::new(),
            suites: Vec::new(),
            request: ScenarioRequest {
                variant: None,
                include: requested.clone(),
                exclude: Vec::new(),
                recommends: false,
            },
            package: scenario_packages(&universe),
            rejected: Vec::new(),
            expect: Expect { packages: None, error: Vec::new(), why: BTreeMap::new(), warnings: Vec::new() },
        };
        let built = scenarios::universe(&scenario, &scenario.package);
        let result = resolve::resolve(&built, &scenarios::request(&scenario));
        let paste = as_scenario(&universe, &requested);
        match result {
            Ok(resolution) => {
                let chosen = scenarios::names(&built, &resolution);
                let set: Vec<&Pkg> = chosen
                    .iter()
                    .map(|line| {
                        let (name, version) = line.split_once(' ').unwrap();
                        universe
                            .iter()
                            .find(|p| p.name == name && p.version.to_string() == version)
                            .unwrap()
                    })
                    .collect();
                let best = candidates(&universe);
                for package in &set {
                    prop_assert!(best.iter().any(|c| c.name == package.name && c.version == package.version),
                        "{} {} is not the candidate\n{paste}", package.name, package.version);
                }
                if let Err(reason) = valid(&set, &requested) {
                    prop_assert!(false, "invalid answer {chosen:?}: {reason}\n{paste}");
                }
            }
            Err(resolve::ResolveError::Unsatisfiable { explanation, .. }) => {
                prop_assert!(!brute_force_solvable(&universe, &requested),
                    "said unsatisfiable, but a valid set exists:\n{explanation}\n{paste}");
            }
            Err(other) => prop_assert!(false, "unexpected error {other}\n{paste}"),
        }
    }
}
