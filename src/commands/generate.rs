//! `debroot generate completions SHELL` and `debroot generate man DIR`: shell completions and
//! man pages generated from the clap definitions (`cli`), so that they describe this binary's
//! command line. `contrib/update` writes them into `contrib/`; a test checks those are current.
//!
//! Nothing in them varies per build but the crate version: the man pages carry no date.

use std::path::{Path, PathBuf};

use clap::CommandFactory;

use super::Outcome;
use crate::cli::{Cli, GenerateCommand};
use crate::error::{Classify, ExitClass, Failure, local};
use crate::pipeline::Env;

/// A man page that cannot be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the man page `{}`", .path.display())]
pub struct ManPageError {
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

impl Classify for ManPageError {
    fn class(&self) -> ExitClass {
        ExitClass::Output
    }

    fn hint(&self) -> Option<String> {
        Some("name a folder you can write (`debroot generate man DIR`)".into())
    }
}

pub fn run(env: &Env<'_>, command: &GenerateCommand) -> Result<Outcome, Failure> {
    match command {
        GenerateCommand::Completions { shell } => {
            let script = completions(*shell);
            env.printer
                .data(&String::from_utf8_lossy(&script))
                .map_err(local("write to stdout"))?;
        }
        GenerateCommand::Man { dir } => {
            for (name, page) in man_pages() {
                write_page(dir, &name, &page)?;
            }
        }
    }
    Ok(Outcome::Success)
}

/// The completion script for `shell`.
pub fn completions(shell: clap_complete::Shell) -> Vec<u8> {
    let mut command = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, "debroot", &mut out);
    out
}

/// The man pages, `(file name, roff)`: `debroot.1`, then one per subcommand that is not hidden
/// (`debroot-hook-chroot.1`), depth first, in the order the command line lists them.
pub fn man_pages() -> Vec<(String, Vec<u8>)> {
    fn collect(command: clap::Command, pages: &mut Vec<(String, Vec<u8>)>) {
        let man = clap_mangen::Man::new(command.clone());
        let mut page = Vec::new();
        // Rendering into a Vec cannot fail.
        if man.render(&mut page).is_ok() {
            pages.push((man.get_filename(), page));
        }
        for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
            collect(sub.clone(), pages);
        }
    }
    let mut command = Cli::command().disable_help_subcommand(true);
    command.build();
    let mut pages = Vec::new();
    collect(command, &mut pages);
    pages
}

fn write_page(dir: &Path, name: &str, page: &[u8]) -> Result<(), ManPageError> {
    let path = dir.join(name);
    std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&path, page))
        .map_err(|source| ManPageError { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn man_pages_name_every_subcommand_and_carry_no_date() {
        let pages = man_pages();
        let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names[0], "debroot.1");
        for name in [
            "debroot-build.1",
            "debroot-hook-chroot.1",
            "debroot-generate-man.1",
        ] {
            assert!(names.contains(&name), "{name} in {names:?}");
        }
        let top = String::from_utf8(pages[0].1.clone()).unwrap();
        let title = top.lines().find(|l| l.starts_with(".TH")).unwrap();
        assert_eq!(
            title,
            format!(".TH debroot 1  \"debroot {}\" ", env!("CARGO_PKG_VERSION"))
        );
    }

    #[test]
    fn completions_know_the_subcommands() {
        let bash = String::from_utf8(completions(clap_complete::Shell::Bash)).unwrap();
        assert!(bash.contains("debroot__subcmd__build") || bash.contains("debroot,build"));
    }
}
