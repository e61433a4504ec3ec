//! Data-driven resolver scenarios: every `tests/scenarios/*.toml` is a tiny universe, a request
//! and the expected set or error. Each scenario is also solved with its packages in reverse
//! order, which must not change the answer.

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;

use common::scenario::{Scenario, ScenarioPackage, names, request, universe};
use debroot::resolve;

/// The set, each package's reason, and the warnings.
type Answer = (Vec<String>, BTreeMap<String, String>, Vec<String>);

fn outcome(scenario: &Scenario, packages: &[ScenarioPackage]) -> Result<Answer, String> {
    let universe = universe(scenario, packages);
    match resolve::resolve(&universe, &request(scenario)) {
        Ok(resolution) => {
            let reasons = resolution
                .packages
                .iter()
                .map(|s| (s.key.0.to_string(), s.reason.to_string()))
                .collect();
            Ok((
                names(&universe, &resolution),
                reasons,
                resolution.warnings.clone(),
            ))
        }
        Err(error) => Err(format!(
            "{error}\n{}",
            debroot::error::Classify::hint(&error).unwrap_or_default()
        )),
    }
}

fn check(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let scenario: Scenario = toml::from_str(&text).map_err(|e| format!("parse: {e}"))?;
    let forward = outcome(&scenario, &scenario.package);
    let mut reversed_packages = scenario.package.clone();
    reversed_packages.reverse();
    let reversed = outcome(&scenario, &reversed_packages);
    if forward != reversed {
        return Err(format!(
            "input order changes the answer:\n{forward:#?}\nvs\n{reversed:#?}"
        ));
    }
    match (
        &forward,
        &scenario.expect.packages,
        scenario.expect.error.is_empty(),
    ) {
        (Ok((set, reasons, warnings)), Some(expected), true) => {
            let mut expected = expected.clone();
            expected.sort();
            if *set != expected {
                return Err(format!("expected {expected:?}\n     got {set:?}"));
            }
            for (package, needle) in &scenario.expect.why {
                let reason = reasons
                    .get(package)
                    .ok_or(format!("no reason for {package}"))?;
                if !reason.contains(needle.as_str()) {
                    return Err(format!("reason of {package}: {reason:?} lacks {needle:?}"));
                }
            }
            for needle in &scenario.expect.warnings {
                if !warnings.iter().any(|w| w.contains(needle.as_str())) {
                    return Err(format!("no warning with {needle:?} in {warnings:?}"));
                }
            }
            Ok(())
        }
        (Err(error), None, false) => {
            for needle in &scenario.expect.error {
                if !error.contains(needle.as_str()) {
                    return Err(format!("error lacks {needle:?}:\n{error}"));
                }
            }
            Ok(())
        }
        (got, _, _) => Err(format!(
            "expected {:?} / errors {:?}, got {got:#?}",
            scenario.expect.packages, scenario.expect.error
        )),
    }
}

#[test]
fn scenarios() {
    let dir = common::repo_root().join("tests/scenarios");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 40, "only {} scenarios", paths.len());
    let failures: Vec<String> = paths
        .iter()
        .filter_map(|path| {
            check(path)
                .err()
                .map(|e| format!("{}: {e}", path.file_name().unwrap().to_string_lossy()))
        })
        .collect();
    eprintln!("{} scenarios, {} failures", paths.len(), failures.len());
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}
