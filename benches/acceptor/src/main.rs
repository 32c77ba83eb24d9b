//! A minimal Phoenix Channels server for connect-and-join benchmarks: it accepts WebSocket
//! connections (optionally over TLS), answers Phoenix V2 JSON joins, heartbeats, leaves and
//! pushes with `ok`, and nothing else. See README.md for what it is not.
//!
//!   acceptor [--host ADDR] [--port N] [--tls CERT KEY] [--threads N] [--exit-after S]
//!
//! Prints one JSON line when it listens (`"event": "listening"`) and one when it stops, on
//! SIGTERM, SIGINT or after `--exit-after` seconds (`"event": "exit"`, with the CPU time it
//! used and the peak number of open connections).

mod args;
mod connection;
mod listener;
mod phoenix;
mod stats;
mod tls;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::signal::unix::{signal, SignalKind};

use crate::args::Args;

fn main() -> ExitCode {
    let args = match args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(why) => {
            eprintln!("acceptor: {why}\n{}", args::USAGE);
            return ExitCode::from(2);
        }
    };
    if args.help {
        println!("{}", args::USAGE);
        return ExitCode::SUCCESS;
    }
    // Every connection is a file: take the whole hard limit (20,000 here) up front.
    stats::raise_open_files_limit();
    let runtime = if args.threads == 1 {
        // One worker: a current_thread runtime spares the multi-thread scheduler's work stealing.
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(args.threads).enable_all().build()
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(why) => {
            eprintln!("acceptor: cannot start the runtime: {why}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("acceptor: {why}");
            ExitCode::from(2)
        }
    }
}

async fn serve(args: Args) -> Result<(), String> {
    let tls = match &args.tls {
        Some((cert, key)) => Some(tls::acceptor(cert, key)?),
        None => None,
    };
    let listener = listener::bind(&args.host, args.port)?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let started = Instant::now();
    stats::print_line(&format!(
        r#"{{"event":"listening","addr":"{addr}","pid":{},"threads":{},"tls":{}}}"#,
        std::process::id(),
        args.threads,
        tls.is_some()
    ));
    let accepting = tokio::spawn(listener::accept_loop(listener, tls.map(Arc::new)));
    let reason = stop_reason(args.exit_after).await?;
    accepting.abort();
    stats::print_line(&stats::exit_line(reason, started.elapsed()));
    Ok(())
}

/// Waits for SIGTERM, SIGINT or the `--exit-after` deadline, and names which came first.
async fn stop_reason(exit_after: Option<f64>) -> Result<&'static str, String> {
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    let deadline = async {
        match exit_after {
            Some(seconds) => tokio::time::sleep(Duration::from_secs_f64(seconds)).await,
            None => std::future::pending().await,
        }
    };
    Ok(tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
        () = deadline => "exit-after",
    })
}
