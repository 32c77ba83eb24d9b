//! The command line, parsed by hand: six options do not need an argument-parsing crate.

use std::path::PathBuf;

pub const USAGE: &str = "\
usage: acceptor [--host ADDR] [--port N] [--tls CERT KEY] [--threads N] [--exit-after S]
  --host ADDR      address to listen on (127.0.0.1)
  --port N         port to listen on (4000; 0 = any free port, printed in the listening line);
                   shared with other acceptor processes through SO_REUSEPORT
  --tls CERT KEY   serve wss:// with this PEM certificate chain and PEM private key
  --threads N      tokio worker threads (1: a current_thread runtime)
  --exit-after S   stop after S seconds (else on SIGTERM or SIGINT)";

#[derive(Debug, PartialEq)]
pub struct Args {
    pub host: String,
    pub port: u16,
    pub tls: Option<(PathBuf, PathBuf)>,
    pub threads: usize,
    pub exit_after: Option<f64>,
    pub help: bool,
}

pub fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut out =
        Args { host: "127.0.0.1".into(), port: 4000, tls: None, threads: 1, exit_after: None, help: false };
    while let Some(arg) = args.next() {
        let mut value = |what: &str| args.next().ok_or_else(|| format!("{arg} needs {what}"));
        match arg.as_str() {
            "--host" => out.host = value("an address")?,
            "--port" => {
                let text = value("a port number")?;
                out.port = text.parse().map_err(|_| format!("--port {text}: not a port (0-65535)"))?;
            }
            "--tls" => {
                let cert = value("a certificate (PEM) and a key (PEM)")?;
                let key = value("a key (PEM) after the certificate")?;
                out.tls = Some((cert.into(), key.into()));
            }
            "--threads" => {
                let text = value("a number of threads")?;
                out.threads = match text.parse() {
                    Ok(n) if n >= 1 => n,
                    _ => return Err(format!("--threads {text}: give a whole number, 1 or more")),
                };
            }
            "--exit-after" => {
                let text = value("seconds")?;
                out.exit_after = match text.parse::<f64>() {
                    Ok(s) if s > 0.0 && s.is_finite() => Some(s),
                    _ => return Err(format!("--exit-after {text}: give a number of seconds above 0")),
                };
            }
            "-h" | "--help" => out.help = true,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(line: &str) -> Result<Args, String> {
        parse(line.split_whitespace().map(String::from))
    }

    #[test]
    fn defaults_and_every_option() {
        let args = parse_str("").unwrap();
        assert_eq!((args.host.as_str(), args.port, args.threads), ("127.0.0.1", 4000, 1));
        let args =
            parse_str("--host 0.0.0.0 --port 0 --tls c.pem k.pem --threads 2 --exit-after 1.5").unwrap();
        assert_eq!(args.host, "0.0.0.0");
        assert_eq!(args.port, 0);
        assert_eq!(args.tls, Some(("c.pem".into(), "k.pem".into())));
        assert_eq!(args.threads, 2);
        assert_eq!(args.exit_after, Some(1.5));
    }

    #[test]
    fn bad_input_says_what_to_give() {
        assert!(parse_str("--port 70000").unwrap_err().contains("not a port"));
        assert!(parse_str("--threads 0").unwrap_err().contains("1 or more"));
        assert!(parse_str("--exit-after -1").unwrap_err().contains("above 0"));
        assert!(parse_str("--tls c.pem").unwrap_err().contains("key"));
        assert!(parse_str("--verbose").unwrap_err().contains("unknown argument"));
    }
}
