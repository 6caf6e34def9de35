//! Command-line interface: argument definitions and dispatch.
//!
//! Clap types stay inside this module. Each subcommand has its own file with
//! its arguments and a `run` that builds the options, calls one operation and
//! hands the result to `render`; exit codes are decided here, in one place.

mod apply;
mod destroy;
mod diagram;
mod explain;
mod frontend;
mod kubeconfig;
mod ls;
mod output;
mod plan;
mod render;
mod session;
mod sleep;
mod status;
mod token;
mod unlock;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::{self, ConfigError, Overlay};
pub use session::Session;

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
    /// The language of what people read (en, ja); else LC_ALL, LC_MESSAGES
    /// or LANG. `--json` is always English.
    #[arg(long, global = true, value_enum)]
    pub lang: Option<LangArg>,
}

/// `--lang`: the languages of `crate::i18n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LangArg {
    En,
    Ja,
}

impl From<LangArg> for crate::i18n::Lang {
    fn from(lang: LangArg) -> Self {
        match lang {
            LangArg::En => crate::i18n::Lang::En,
            LangArg::Ja => crate::i18n::Lang::Ja,
        }
    }
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

/// A stack by its file, or, once the file is gone, by `--stack NAME`
/// with the global `--region` (`destroy`, `status`).
#[derive(Debug, Args)]
pub struct StackOrName {
    /// Path to the stack file, e.g. stacks/learning.toml (or `--stack NAME --region R`).
    #[arg(required_unless_present = "name")]
    pub stack: Option<PathBuf>,
    /// Overlay <stack dir>/../environments/ENV.toml.
    #[arg(long, conflicts_with = "env_file")]
    pub env: Option<String>,
    /// Overlay this file.
    #[arg(long, value_name = "PATH")]
    pub env_file: Option<PathBuf>,
    /// The stack's name, when its file is gone: found by its tags and
    /// names in `--region` (which is then required).
    #[arg(long = "stack", value_name = "NAME", conflicts_with_all = ["stack", "env", "env_file"])]
    pub name: Option<String>,
}

/// A stack as a command found it: from its file, or by name alone.
pub struct Named {
    pub stack: config::Stack,
    /// Whether there is a file to compare with.
    pub from_file: bool,
    /// How to run `verb` again on it.
    pub resume: String,
}

impl StackOrName {
    pub fn load(&self, session: &Session, verb: &str) -> anyhow::Result<Named> {
        match (&self.stack, &self.name) {
            (Some(file), _) => {
                let args = StackArgs {
                    stack: file.clone(),
                    env: self.env.clone(),
                    env_file: self.env_file.clone(),
                };
                Ok(Named {
                    stack: args.load(session)?.stack,
                    from_file: true,
                    resume: args.resume(verb),
                })
            }
            (None, Some(name)) => {
                config::resolve::check_stack_name(name).map_err(|rule| anyhow::anyhow!("--stack: {rule}"))?;
                // AWS_REGION is never enough: the stack's region is named.
                let Some(region) = session.global.region.clone() else {
                    return Err(crate::i18n::error(
                        crate::i18n::Msg::new("error.stack_needs_region")
                            .arg("verb", verb)
                            .arg("name", name),
                    ));
                };
                if config::regions::availability_zones(&region).is_none() {
                    anyhow::bail!("--region: \"{region}\" is not a region ekstack supports");
                }
                Ok(Named {
                    resume: format!("ekstack {verb} --stack {name} --region {region}"),
                    stack: config::Stack::bare(name, &region),
                    from_file: false,
                })
            }
            (None, None) => anyhow::bail!("name the stack: a stack file, or `--stack NAME --region R`"),
        }
    }
}

/// The stack's lock, for the commands that change it.
#[derive(Debug, Args)]
pub struct LockArgs {
    /// Wait this long (`90s`, `10m`, `1h`) for the stack's lock when
    /// another apply, destroy, sleep or wake holds it, instead of refusing.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub lock_timeout: Option<std::time::Duration>,
}

/// `90s`, `10m`, `1h` or a number of seconds.
fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let (digits, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a duration: write 90s, 10m or 1h"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("`{text}` is not a duration: write 90s, 10m or 1h")),
    };
    Ok(std::time::Duration::from_secs(secs))
}

impl StackArgs {
    pub fn overlay(&self) -> Overlay {
        match (&self.env, &self.env_file) {
            (Some(name), _) => Overlay::Env(name.clone()),
            (None, Some(path)) => Overlay::File(path.clone()),
            (None, None) => Overlay::None,
        }
    }

    /// Loads the stack and shows any notes about overlay keys left out.
    pub fn load(&self, session: &Session) -> Result<config::Loaded, ConfigError> {
        let loaded = config::load(&self.stack, &self.overlay(), session.global.region.clone())?;
        crate::render::stderr(&loaded.render_notes(session.styles.stderr.color));
        Ok(loaded)
    }

    /// How the user named the stack: `stacks/learning.toml --env mvp`.
    pub fn as_typed(&self) -> String {
        let mut s = self.stack.display().to_string();
        if let Some(env) = &self.env {
            s.push_str(&format!(" --env {env}"));
        }
        if let Some(file) = &self.env_file {
            s.push_str(&format!(" --env-file {}", file.display()));
        }
        s
    }

    /// The command that resumes an interrupted run.
    pub fn resume(&self, verb: &str) -> String {
        format!("ekstack {verb} {}", self.as_typed())
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
    /// Remove a stack's lock left by a killed apply, destroy, sleep or wake.
    Unlock(unlock::UnlockArgs),
    /// Every ekstack stack in every enabled region, with its state and cost.
    Ls(ls::LsArgs),
    /// Draw the stack: VPC, subnets per AZ, NAT, cluster, database, traffic.
    Diagram(diagram::DiagramArgs),
    /// What each resource is for, its share of the cost, and how to pay less.
    Explain(explain::ExplainArgs),
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
    let session = Session::new(cli.global.clone());
    let result = run(&session, cli.command);
    session.finish();
    match result {
        Ok(Outcome::Done) => ExitCode::SUCCESS,
        Ok(Outcome::ChangesPresent) => ExitCode::from(2),
        // Whoever read our output went away (`| head -1`): nothing to say.
        Err(error) if crate::render::report::is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            crate::render::stderr(&crate::render::report::error(&error, session.styles.stderr));
            ExitCode::FAILURE
        }
    }
}

fn run(session: &Session, command: Command) -> anyhow::Result<Outcome> {
    match command {
        Command::Validate(args) => validate::run(session, args),
        Command::Render(args) => render::run(session, args),
        Command::Plan(args) => plan::run(session, args),
        Command::Apply(args) => apply::run(session, args, "apply"),
        Command::Destroy(args) => destroy::run(session, args),
        Command::Status(args) => status::run(session, args),
        Command::Output(args) => output::run(session, args),
        Command::Kubeconfig(args) => kubeconfig::run(session, args),
        Command::Token(args) => token::run(session, args),
        Command::Sleep(args) => sleep::run(session, args),
        Command::Wake(args) => apply::run(session, args, "wake"),
        Command::Unlock(args) => unlock::run(session, args),
        Command::Ls(args) => ls::run(session, args),
        Command::Diagram(args) => diagram::run(session, args),
        Command::Explain(args) => explain::run(session, args),
        Command::Schema => {
            crate::render::stdout(&format!("{}\n", crate::config::schema_json()))?;
            Ok(Outcome::Done)
        }
    }
}

/// `--prices`, for every command that shows what a stack costs.
#[derive(Debug, Args)]
pub struct PriceArgs {
    /// Your own price file, overriding the built-in table entry by entry.
    #[arg(long = "prices", env = "EKSTACK_PRICES", value_name = "PATH")]
    pub file: Option<PathBuf>,
}

impl PriceArgs {
    /// The price table: the built-in one, or the user's file over it.
    pub fn table(&self) -> anyhow::Result<crate::cost::PriceTable> {
        match &self.file {
            Some(p) => crate::cost::PriceTable::load(p),
            None => Ok(crate::cost::PriceTable::builtin()),
        }
    }
}
