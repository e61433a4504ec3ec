//! `tests/tools` (the host programs tests need, and which tests) agrees with the tests: a test
//! that calls `common::tools::require("P")` is named on P's line, so that `bash tests/run` leaves
//! it out when P is missing; every name on a line is a module or a test that exists.

use crate::common;

use std::collections::BTreeMap;

/// The test functions of each module file of tests/it (`module` → test names), and the programs
/// each test requires directly (`module::test` → programs).
type Found = (BTreeMap<String, Vec<String>>, BTreeMap<String, Vec<String>>);

/// Reads tests/it/*.rs: top-level `fn`s after a `#[test]` attribute, and `tools::require("P")`
/// calls in them. A call in a helper (not a test) is allowed; it is reported as `module::helper`
/// and must be covered too, by naming the helper's tests (or the module).
fn scan() -> Found {
    let dir = common::repo_root().join("tests/it");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    files.sort();
    let mut tests = BTreeMap::new();
    let mut requires: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for file in files {
        let module = file.file_stem().unwrap().to_str().unwrap().to_owned();
        let text = std::fs::read_to_string(&file).unwrap();
        let mut names = Vec::new();
        let mut attribute_test = false;
        let mut current: Option<(String, bool)> = None;
        for line in text.lines() {
            if line.starts_with("#[test]") {
                attribute_test = true;
            } else if let Some(rest) = line
                .strip_prefix("fn ")
                .or_else(|| line.strip_prefix("pub fn "))
            {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if attribute_test {
                    names.push(name.clone());
                }
                current = Some((name, attribute_test));
                attribute_test = false;
            } else if line.starts_with(|c: char| !c.is_whitespace())
                && !line.starts_with("#[")
                && !line.starts_with("///")
            {
                // Another item: a `#[test]` seen before it was not for a function.
                attribute_test = false;
            }
            if line.trim_start().starts_with("//") {
                continue;
            }
            if let Some(at) = line.find("tools::require(\"") {
                let program: String = line[at + "tools::require(\"".len()..]
                    .chars()
                    .take_while(|c| *c != '"')
                    .collect();
                let (function, _) = current
                    .clone()
                    .unwrap_or_else(|| panic!("{module}: `require` outside a function"));
                requires
                    .entry(format!("{module}::{function}"))
                    .or_default()
                    .push(program);
            }
        }
        tests.insert(module, names);
    }
    (tests, requires)
}

#[test]
fn every_required_program_is_listed() {
    let requirements = common::tools::requirements();
    let (tests, requires) = scan();
    let mut problems = Vec::new();
    for (function, programs) in &requires {
        let (module, name) = function.split_once("::").unwrap();
        let is_test = tests[module].iter().any(|t| t == name);
        for program in programs {
            let Some(line) = requirements.iter().find(|r| &r.program == program) else {
                problems.push(format!(
                    "{function} requires `{program}`, not a line of tests/tools"
                ));
                continue;
            };
            if is_test && !line.covers(function) {
                problems.push(format!(
                    "{function} requires `{program}`: add `{function}` to its line in tests/tools"
                ));
            }
            if !is_test
                && !line
                    .tests
                    .iter()
                    .any(|t| t.starts_with(&format!("{module}::")))
            {
                problems.push(format!(
                    "the helper {function} requires `{program}`: name its tests on that line in tests/tools"
                ));
            }
        }
    }
    for line in &requirements {
        if line.packages.is_empty() || line.tests.is_empty() {
            problems.push(format!(
                "tests/tools: `{}` needs packages and tests",
                line.program
            ));
        }
        for name in &line.tests {
            let exists = match name.split_once("::") {
                Some((module, "")) => tests.contains_key(module),
                Some((module, test)) => tests
                    .get(module)
                    .is_some_and(|t| t.iter().any(|n| n == test)),
                None => false,
            };
            if !exists {
                problems.push(format!(
                    "tests/tools: `{name}` (on the line of `{}`) is no module or test of tests/it",
                    line.program
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn requirement_lines_parse_and_cover_modules_and_tests() {
    let lines = common::tools::parse(
        "# comment\n\nmmdebstrap  mmdebstrap  live::a live_build::\ngcc gcc,libc6-dev x::y\n",
    );
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1].packages, ["gcc", "libc6-dev"]);
    assert!(lines[0].covers("live::a"));
    assert!(!lines[0].covers("live::ab"));
    assert!(lines[0].covers("live_build::anything"));
    assert!(!lines[0].covers("live_buildx::anything"));
    assert!(common::tools::present("sh"));
    assert!(!common::tools::present("debroot-no-such-program"));
}

/// CI runs every test: `.ci/run` installs every package `tests/tools` names.
#[test]
fn ci_installs_every_listed_package() {
    let ci = std::fs::read_to_string(common::repo_root().join(".ci/run")).unwrap();
    let installed: Vec<&str> = ci
        .split(|c: char| !(c.is_ascii_alphanumeric() || "+-.".contains(c)))
        .collect();
    let missing: Vec<String> = common::tools::requirements()
        .iter()
        .flat_map(|r| r.packages.clone())
        .filter(|p| !installed.contains(&p.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "tests/tools names packages .ci/run does not install: {missing:?}"
    );
}
