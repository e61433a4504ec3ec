//! The example CI workflow (`examples/github-actions.yml`) runs debroot commands that exist:
//! every `debroot ...` line of its `run:` steps, with the matrix values of each job put in,
//! must parse with debroot's own command line. A workflow that names an option debroot lacks
//! fails here, not on a user's runner.

use std::collections::BTreeMap;

use clap::Parser;
use yaml_rust2::{Yaml, YamlLoader};

use crate::common;

/// One debroot invocation found in the workflow, its arguments after `debroot`.
#[derive(Debug)]
struct Invocation {
    job: String,
    line: String,
    args: Vec<String>,
}

fn scalar(yaml: &Yaml) -> Option<String> {
    match yaml {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

fn env_of(yaml: &Yaml) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    if let Yaml::Hash(hash) = &yaml["env"] {
        for (key, value) in hash {
            if let (Some(key), Some(value)) = (scalar(key), scalar(value)) {
                env.insert(key, value);
            }
        }
    }
    env
}

/// `${{ matrix.K }}` from `matrix`, every other `${{ ... }}` expression as a placeholder.
fn expand_expressions(line: &str, matrix: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find("}}") else {
            break;
        };
        let expression = rest[start + 3..start + end].trim();
        match expression.strip_prefix("matrix.") {
            Some(key) => out.push_str(
                matrix
                    .get(key)
                    .unwrap_or_else(|| panic!("`{expression}` is not in the matrix")),
            ),
            None => out.push('X'),
        }
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    out
}

/// `$NAME` and `${NAME}` from `env`, unknown ones as a placeholder.
fn expand_variables(word: &str, env: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut chars = word.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        let braced = word[i + 1..].starts_with('{');
        let from = i + 1 + usize::from(braced);
        let len = word[from..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(word.len() - from);
        let name = &word[from..from + len];
        out.push_str(env.get(name).map_or("X", String::as_str));
        let skip = usize::from(braced) + len + usize::from(braced);
        for _ in 0..skip {
            chars.next();
        }
    }
    out
}

/// The debroot invocations of a `run:` script: lines (continuations joined) whose command is
/// `debroot`, `sudo debroot` or `sudo "$(command -v debroot)"`.
fn invocations_of(
    job: &str,
    script: &str,
    matrix: &BTreeMap<String, String>,
    env: &BTreeMap<String, String>,
) -> Vec<Invocation> {
    let joined = script.replace("\\\n", " ");
    let mut found = Vec::new();
    for line in joined.lines() {
        let line = expand_expressions(line.trim(), matrix);
        let Some(words) = shlex::split(&line) else {
            panic!("{job}: cannot split `{line}` as the shell does");
        };
        let mut words = words.as_slice();
        if words.first().map(String::as_str) == Some("sudo") {
            words = &words[1..];
            if words.first().map(String::as_str) == Some("-E") {
                words = &words[1..];
            }
        }
        let is_debroot = matches!(
            words.first().map(String::as_str),
            Some("debroot" | "$(command -v debroot)")
        );
        if is_debroot {
            found.push(Invocation {
                job: job.to_owned(),
                line: line.clone(),
                // The command ends at a redirection, pipe or list operator.
                args: words[1..]
                    .iter()
                    .take_while(|w| !is_shell_operator(w))
                    .map(|w| expand_variables(w, env))
                    .collect(),
            });
        }
    }
    found
}

fn is_shell_operator(word: &str) -> bool {
    matches!(
        word,
        ">" | ">>" | "<" | "2>" | "2>&1" | "|" | "||" | "&&" | ";" | "&"
    )
}

fn workflow_invocations(text: &str) -> Vec<Invocation> {
    let docs = YamlLoader::load_from_str(text).expect("the workflow is YAML");
    let workflow = &docs[0];
    let top_env = env_of(workflow);
    let Yaml::Hash(jobs) = &workflow["jobs"] else {
        panic!("the workflow has no jobs");
    };
    let mut found = Vec::new();
    for (name, job) in jobs {
        let name = text_of(name);
        let mut matrices: Vec<BTreeMap<String, String>> = Vec::new();
        if let Yaml::Array(include) = &job["strategy"]["matrix"]["include"] {
            for entry in include {
                let Yaml::Hash(entry) = entry else { continue };
                matrices.push(
                    entry
                        .iter()
                        .filter_map(|(k, v)| Some((scalar(k)?, scalar(v)?)))
                        .collect(),
                );
            }
        }
        if matrices.is_empty() {
            matrices.push(BTreeMap::new());
        }
        let Yaml::Array(steps) = &job["steps"] else {
            continue;
        };
        for matrix in &matrices {
            let mut env = top_env.clone();
            for (key, value) in env_of(job) {
                env.insert(key, expand_expressions(&value, matrix));
            }
            for step in steps {
                let Some(script) = scalar(&step["run"]) else {
                    continue;
                };
                let mut env = env.clone();
                for (key, value) in env_of(step) {
                    env.insert(key, expand_expressions(&value, matrix));
                }
                found.extend(invocations_of(&name, &script, matrix, &env));
            }
        }
    }
    found
}

fn text_of(yaml: &Yaml) -> String {
    scalar(yaml).unwrap_or_default()
}

/// Why debroot's command line refuses `args`, or `None` when it takes them.
fn refused(args: &[String]) -> Option<String> {
    let argv = std::iter::once("debroot".to_owned()).chain(args.iter().cloned());
    match debroot::cli::Cli::try_parse_from(argv) {
        Ok(_) => None,
        Err(error) => Some(error.to_string()),
    }
}

#[test]
fn every_debroot_command_of_the_example_workflow_parses() {
    let path = common::repo_root().join("examples/github-actions.yml");
    let text = std::fs::read_to_string(&path).unwrap();
    let found = workflow_invocations(&text);
    let subcommands: std::collections::BTreeSet<&str> = found
        .iter()
        .filter_map(|i| i.args.first().map(String::as_str))
        .collect();
    assert_eq!(
        subcommands.into_iter().collect::<Vec<_>>(),
        ["build", "lock", "verify"],
        "the workflow's debroot commands: {found:#?}"
    );
    let mut errors = Vec::new();
    for invocation in &found {
        if let Some(error) = refused(&invocation.args) {
            errors.push(format!(
                "job `{}`: `{}`\n  as debroot {:?}\n  {error}",
                invocation.job, invocation.line, invocation.args
            ));
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

/// The check can fail: an option debroot lacks, in a workflow of the same shape, is found.
#[test]
fn a_workflow_naming_an_option_debroot_lacks_is_refused() {
    let workflow = r#"
jobs:
  build:
    strategy:
      matrix:
        include:
          - { format: tar }
    env:
      PROFILE: ci/p.toml
    steps:
      - run: |
          sudo "$(command -v debroot)" build "$PROFILE" -o out.tar --format ${{ matrix.format }} \
            --no-such-option
"#;
    let found = workflow_invocations(workflow);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].args[..2], ["build", "ci/p.toml"]);
    let error = refused(&found[0].args).expect("refused");
    assert!(error.contains("--no-such-option"), "{error}");
}
