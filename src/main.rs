use std::process::ExitCode;

fn main() -> ExitCode {
    debroot::run(
        std::env::args_os(),
        &debroot::context::Context::from_process(),
    )
}
