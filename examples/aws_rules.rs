//! The AWS-rules emulator as a process of its own, for `make demo` and for
//! trying ekstack by hand: the test suite's proxy (`tests/support/proxy.rs`)
//! with the AWS rules on (`tests/support/rules`), in front of a moto server.
//! It makes moto behave as AWS documents (ids not visible right after their
//! create, roles EKS cannot use for a moment, updates tracked by id, slow
//! states scaled to 100 ms per modelled minute) and serves the EKS APIs moto
//! lacks. It is test support: it is never part of the `ekstack` binary.
//!
//! `cargo run --example aws_rules -- [--port 5056] [--upstream http://127.0.0.1:5055] [--minute-ms 100]`
//!
//! `--minute-ms` sets the real time of a modelled minute: 60000 is AWS's
//! pace, 1000 a run 60 times faster (give ekstack the same pace with
//! `EKSTACK_MODEL_SCALE`, the seconds per modelled second: 1/60 there).

#[path = "../tests/support/proxy.rs"]
mod proxy;
#[path = "../tests/support/rules/mod.rs"]
mod rules;

fn main() {
    let mut port: u16 = 5056;
    let mut upstream = std::env::var("EKSTACK_TEST_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:5055".into());
    let mut settings = rules::Settings::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--port", Some(v)) => match v.parse() {
                Ok(p) => port = p,
                Err(_) => exit(&format!("--port {v}: not a port number")),
            },
            ("--upstream", Some(v)) => upstream = v,
            ("--minute-ms", Some(v)) => match v.parse::<u64>() {
                Ok(ms) if ms > 0 => settings.minute = std::time::Duration::from_millis(ms),
                _ => exit(&format!("--minute-ms {v}: not a positive number of milliseconds")),
            },
            _ => exit("usage: aws_rules [--port N] [--upstream http://host:port] [--minute-ms MS]"),
        }
    }
    let proxy = match proxy::FaultProxy::start_blocking_with(&upstream, proxy::Faults::default(), Some(settings), port)
    {
        Ok(p) => p,
        Err(e) => exit(&format!("cannot listen on 127.0.0.1:{port}: {e}")),
    };
    eprintln!("aws-rules: {} in front of {upstream}", proxy.url());
    // Serve until killed; the proxy runs on its own thread.
    loop {
        std::thread::park();
    }
}

fn exit(message: &str) -> ! {
    eprintln!("aws-rules: {message}");
    std::process::exit(2)
}
