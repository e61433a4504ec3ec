//! The hooks of a build: found before anything is downloaded (the profile's hook folders, then
//! the command line's), and run at their phases on the root, timed.

use std::time::{Duration, Instant};

use crate::error::{Failure, io_at, local};
use crate::hooks::Phase;
use crate::profile::Mode;

use super::{BuildSpec, Env};

/// What the root phases need to run hooks.
pub struct HookPlan {
    pub hooks: Vec<crate::hooks::Hook>,
    pub timeout: std::time::Duration,
    /// Host variables passed by name (`build.pass-env`) that are set.
    pub passed: Vec<(String, String)>,
}

pub fn hook_plan(env: &Env<'_>, spec: &BuildSpec) -> Result<HookPlan, Failure> {
    let profile = &spec.profile;
    let passed = profile
        .build
        .pass_env
        .iter()
        .filter_map(|name| {
            env.context
                .passthrough(name)
                .map(|value| (name.clone(), value.to_string_lossy().into_owned()))
        })
        .collect();
    Ok(HookPlan {
        // The profile's folders', then the command line's.
        hooks: crate::hooks::discover(&profile.build.hooks, &spec.hooks)?,
        timeout: std::time::Duration::from_secs(
            spec.hook_timeout.unwrap_or(profile.build.hook_timeout),
        ),
        passed,
    })
}

/// The runner of a build's hooks on `root`.
pub fn hook_runner<'a>(
    plan: &'a HookPlan,
    profile: &crate::profile::Profile,
    root: &std::path::Path,
    mode: Mode,
    epoch: i64,
) -> Result<crate::hooks::Runner<'a>, Failure> {
    let cwd = std::env::current_dir().map_err(local("determine the current directory"))?;
    // `chroot "$1" CMD` in a hook confined as `debroot hook chroot` is: the shim, in the work
    // directory beside the root.
    let shim_dir = match root.parent() {
        Some(work) if !plan.hooks.is_empty() => {
            let dir = work.join("hook-bin");
            crate::hooks::install_shim(&dir).map_err(io_at("make the hooks' `chroot` in", &dir))?;
            Some(dir)
        }
        _ => None,
    };
    Ok(crate::hooks::Runner {
        hooks: &plan.hooks,
        contract: crate::hooks::Contract {
            mode: mode.as_str().to_owned(),
            suite: profile.source.suite.clone(),
            arch: profile.source.native_architecture().to_string(),
            profile: profile.path.clone(),
            root: root.to_path_buf(),
            epoch,
            settings: profile.build.env.clone(),
            passed: plan.passed.clone(),
            helper_dir: std::env::current_exe()
                .ok()
                .and_then(|exe| exe.parent().map(std::path::Path::to_path_buf)),
            shim_dir,
        },
        timeout: plan.timeout,
        hostname: profile
            .build
            .hostname
            .clone()
            .unwrap_or_else(|| "localhost".into()),
        cwd,
        sandboxed: rustix::process::geteuid().is_root(),
    })
}

/// `-v`: a hook's time; `-vv`: its output.
fn report_hook(
    env: &Env<'_>,
    phase: crate::hooks::Phase,
    hook: &crate::hooks::Hook,
    output: &str,
    elapsed: Duration,
) {
    env.printer.detail(&format!(
        "hook {} ({}) done in {:.2}s",
        hook.name,
        phase.as_str(),
        elapsed.as_secs_f64()
    ));
    for line in output.lines() {
        env.printer.debug(&format!("  {line}"));
    }
}

/// A build's hooks, bound to its root, and the time they took.
pub struct Hooks<'a> {
    env: &'a Env<'a>,
    runner: crate::hooks::Runner<'a>,
    pub time: Duration,
}

impl<'a> Hooks<'a> {
    pub fn new(env: &'a Env<'a>, runner: crate::hooks::Runner<'a>) -> Self {
        Hooks {
            env,
            runner,
            time: Duration::ZERO,
        }
    }

    /// Runs the hooks of `phase` (none: nothing).
    pub fn run(&mut self, phase: Phase) -> Result<(), Failure> {
        let names: Vec<&str> = self
            .runner
            .hooks
            .iter()
            .filter(|h| h.phase == phase)
            .map(|h| h.name.as_str())
            .collect();
        let Some(first) = names.first() else {
            return Ok(());
        };
        let started = Instant::now();
        let what = format!(
            "{} {}-hook{} ({})",
            names.len(),
            phase.as_str(),
            if names.len() == 1 { "" } else { "s" },
            // A hook's name is shown as it is (a file's path is already quoted).
            names.join(", ")
        );
        let step = self.env.printer.step(
            "Running",
            &what,
            crate::printer::Unit::Items,
            names.len() as u64,
            names.len() as u64,
        );
        step.working_on(&format!("hook {first}"));
        let mut done = 0;
        self.runner.run(phase, &mut |hook, output, elapsed| {
            report_hook(self.env, phase, hook, output, elapsed);
            done += 1;
            step.inc(1);
            if let Some(next) = names.get(done) {
                step.working_on(&format!("hook {next}"));
            }
        })?;
        step.finish("Ran", &what);
        self.time += started.elapsed();
        Ok(())
    }
}
