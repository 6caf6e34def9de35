//! Command-line interface: argument definitions and dispatch.
//!
//! Clap types stay inside this module. Each subcommand has its own file with
//! its arguments and a `run` that calls into the operations; exit codes are
//! decided here, in one place.

mod apply;
mod destroy;
mod kubeconfig;
mod output;
mod plan;
mod render;
mod session;
mod sleep;
mod status;
mod token;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::{self, ConfigError, Overlay};

#[derive(Debug, Parser)]
#[command(
    name = "ekstack",
    version,
    about = "Provision an EKS + RDS stack from one TOML file: plan, apply, destroy."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// AWS region for `token`. Stack commands use the file's `stack.region`
    /// (AWS_REGION is ignored for them: a stack lives where its file says).
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// AWS named profile.
    #[arg(long, global = true, env = "AWS_PROFILE")]
    pub profile: Option<String>,
    /// Send every AWS call to this endpoint (an emulator such as moto).
    #[arg(long, global = true, env = "AWS_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,
    /// Log each AWS call and more detail.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Plain output without colours (also NO_COLOR).
    #[arg(long, global = true)]
    pub no_color: bool,
}

/// The stack file and its overlay, shared by every stack command.
#[derive(Debug, Args, Clone)]
pub struct StackArgs {
    /// Path to the stack file, e.g. stacks/learning.toml.
    pub stack: PathBuf,
    /// Overlay <stack dir>/../environments/ENV.toml.
    #[arg(long, conflicts_with = "env_file")]
    pub env: Option<String>,
    /// Overlay this file.
    #[arg(long, value_name = "PATH")]
    pub env_file: Option<PathBuf>,
}

impl StackArgs {
    pub fn overlay(&self) -> Overlay {
        match (&self.env, &self.env_file) {
            (Some(name), _) => Overlay::Env(name.clone()),
            (None, Some(path)) => Overlay::File(path.clone()),
            (None, None) => Overlay::None,
        }
    }

    /// Loads the stack and prints any notes about overlay keys left out.
    pub fn load(&self, global: &GlobalArgs) -> Result<config::Loaded, ConfigError> {
        let loaded = config::load(&self.stack, &self.overlay(), global.region.clone())?;
        eprint!("{}", loaded.render_notes(use_color(global)));
        Ok(loaded)
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the stack file and overlay; no AWS call.
    Validate(validate::ValidateArgs),
    /// Print the fully resolved stack (defaults + overlay) as TOML.
    Render(render::RenderArgs),
    /// Show what apply would change, against live AWS state.
    Plan(plan::PlanArgs),
    /// Create or change resources until the stack matches its file.
    Apply(apply::ApplyArgs),
    /// Delete every resource of the stack.
    Destroy(destroy::DestroyArgs),
    /// Every live resource of the stack, its state, drift and cost.
    Status(status::StatusArgs),
    /// Endpoints, names and the database secret's ARN.
    Output(output::OutputArgs),
    /// Merge a context for the stack's cluster into your kubeconfig.
    Kubeconfig(kubeconfig::KubeconfigArgs),
    /// Print an EKS bearer token as a Kubernetes ExecCredential.
    Token(token::TokenArgs),
    /// Stop paying overnight: node groups to 0, database stopped, NAT removed.
    Sleep(sleep::SleepArgs),
    /// Back to exactly what the file says (an apply).
    Wake(apply::ApplyArgs),
    /// Print the JSON Schema of stack files (for editors).
    #[command(hide = true)]
    Schema,
}

/// How a successful command ended, for the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Done,
    /// Exit 2: `plan --detailed-exitcode` found changes.
    ChangesPresent,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let color = use_color(&cli.global);
    if !color {
        // indicatif draws through `console`, which has its own switch.
        console::set_colors_enabled(false);
        console::set_colors_enabled_stderr(false);
    }
    match run(cli) {
        Ok(Outcome::Done) => ExitCode::SUCCESS,
        Ok(Outcome::ChangesPresent) => ExitCode::from(2),
        Err(error) => {
            report(&error, color);
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let global = cli.global;
    match cli.command {
        Command::Validate(args) => validate::run(&global, args),
        Command::Render(args) => render::run(&global, args),
        Command::Plan(args) => plan::run(&global, args),
        Command::Apply(args) => apply::run(&global, args),
        Command::Destroy(args) => destroy::run(&global, args),
        Command::Status(args) => status::run(&global, args),
        Command::Output(args) => output::run(&global, args),
        Command::Kubeconfig(args) => kubeconfig::run(&global, args),
        Command::Token(args) => token::run(&global, args),
        Command::Sleep(args) => sleep::run(&global, args),
        Command::Wake(args) => apply::run(&global, args),
        Command::Schema => {
            println!("{}", crate::config::schema_json());
            Ok(Outcome::Done)
        }
    }
}

pub fn use_color(global: &GlobalArgs) -> bool {
    !global.no_color && std::env::var_os("NO_COLOR").is_none() && console::Term::stderr().features().colors_supported()
}

/// Prints an error: stack-file errors with their source snippets, anything
/// else with its chain of context.
fn report(error: &anyhow::Error, color: bool) {
    if let Some(config_error) = error.downcast_ref::<ConfigError>() {
        eprint!("{}", config_error.render(color));
        return;
    }
    let prefix = if color {
        console::style("error:").red().bold().to_string()
    } else {
        "error:".to_string()
    };
    eprintln!("{prefix} {error}");
    for cause in error.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
}
