//! The `ekstack` binary: parse the command line, run it, exit with its code.

fn main() -> std::process::ExitCode {
    ekstack::cli::main()
}
