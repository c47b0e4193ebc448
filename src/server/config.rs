//! Runtime configuration, from flags and `HOLDPOINT_*` environment variables.

use crate::server::duration::parse_duration;
use crate::server::rate_limit::Rate;
use crate::server::trusted_proxies::{ForwardedHeader, TrustedProxies};
use crate::server::webhook::schedule::RetrySchedule;
use crate::server::webhook::WebhookSettings;
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Settings shared by `serve` and the admin commands. Every flag has an
/// environment variable; flags win.
#[derive(Debug, Clone, Args)]
pub struct ConfigArgs {
    /// Address to listen on. Port 0 picks a free port (the chosen address is
    /// printed at start). Falls back to LEPTOS_SITE_ADDR, then 127.0.0.1:3000.
    #[arg(long, env = "HOLDPOINT_ADDR", global = true)]
    pub addr: Option<SocketAddr>,

    /// Database: sqlite://PATH or postgres://USER:PASSWORD@HOST:PORT/DATABASE.
    /// Default: holdpoint.db in the data directory.
    #[arg(long, env = "HOLDPOINT_DATABASE_URL", global = true)]
    pub database_url: Option<String>,

    /// Where the embedded database and other state live.
    #[arg(
        long,
        env = "HOLDPOINT_DATA_DIR",
        default_value = "./data",
        global = true
    )]
    pub data_dir: PathBuf,

    /// The base URL people and agents use, for links in API answers.
    /// Default: http://{addr}.
    #[arg(long, env = "HOLDPOINT_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,

    /// How long an approval waits when the agent sets no expires_in
    /// (e.g. 90s, 30m, 24h, 7d).
    #[arg(long, env = "HOLDPOINT_DEFAULT_EXPIRY", default_value = "24h",
          value_parser = parse_duration, global = true)]
    pub default_expiry: Duration,

    /// Delays between webhook attempts, comma-separated; each is jittered
    /// by ±20 %. After the last one fails the message is marked failed.
    #[arg(long, env = "HOLDPOINT_WEBHOOK_RETRY_SCHEDULE",
          default_value = crate::server::webhook::schedule::DEFAULT_SCHEDULE,
          value_parser = RetrySchedule::parse, global = true)]
    pub webhook_retry_schedule: RetrySchedule,

    /// Allow webhook targets on private, loopback and link-local addresses
    /// (local setups and tests; never where URLs come from untrusted people).
    #[arg(long, env = "HOLDPOINT_WEBHOOK_ALLOW_PRIVATE", default_value = "false",
          value_parser = clap::builder::BoolishValueParser::new(), global = true)]
    pub webhook_allow_private: bool,

    /// How long one webhook attempt may take before it counts as failed.
    #[arg(long, env = "HOLDPOINT_WEBHOOK_TIMEOUT", default_value = "15s",
          value_parser = parse_duration, global = true)]
    pub webhook_timeout: Duration,

    /// After a secret rotation, how long deliveries are signed with the old
    /// secret as well.
    #[arg(long, env = "HOLDPOINT_WEBHOOK_ROTATION_OVERLAP", default_value = "24h",
          value_parser = parse_duration, global = true)]
    pub webhook_rotation_overlap: Duration,

    /// A PEM file of private certificate authorities trusted for https
    /// webhook endpoints, beside the system's roots.
    #[arg(long, env = "HOLDPOINT_WEBHOOK_CA_FILE", global = true)]
    pub webhook_ca_file: Option<PathBuf>,

    /// How many changes a live inbox may fall behind (a slow network, a
    /// sleeping laptop) before it is sent a fresh snapshot instead.
    #[arg(long, env = "HOLDPOINT_LIVE_BACKLOG", default_value = "256",
          value_parser = clap::value_parser!(u32).range(1..=65_536), global = true)]
    pub live_backlog: u32,

    /// Failed sign-ins allowed from one client address within 15 minutes
    /// (across all accounts) before that address is refused for the rest of
    /// the window. Behind a reverse proxy, set HOLDPOINT_TRUSTED_PROXIES, or
    /// every client shares the proxy's address.
    #[arg(long, env = "HOLDPOINT_SIGNIN_ADDRESS_LIMIT", default_value = "100",
          value_parser = clap::value_parser!(u32).range(1..), global = true)]
    pub signin_address_limit: u32,

    /// Reverse proxies whose X-Forwarded-For / Forwarded headers name the
    /// client: addresses and CIDR ranges, comma-separated (127.0.0.1,
    /// 10.0.0.0/8). The client is the rightmost forwarded address that is
    /// not one of them. Empty (the default): the connection's peer.
    #[arg(long, env = "HOLDPOINT_TRUSTED_PROXIES", default_value = "",
          value_parser = TrustedProxies::parse, global = true)]
    pub trusted_proxies: TrustedProxies,

    /// The header the trusted proxies write the client into:
    /// x-forwarded-for (nginx, Caddy, most load balancers) or forwarded
    /// (RFC 7239). Only this one is read.
    #[arg(long, env = "HOLDPOINT_FORWARDED_HEADER", default_value = "x-forwarded-for",
          value_parser = ForwardedHeader::parse, global = true)]
    pub forwarded_header: ForwardedHeader,

    /// How fast one API key may create approvals, steadily (50/s, 600/m,
    /// 3600/h); beyond it, 429 with Retry-After.
    #[arg(long, env = "HOLDPOINT_CREATE_RATE", default_value = "50/s",
          value_parser = Rate::parse, global = true)]
    pub create_rate: f64,

    /// How many creates one API key may make at once above the steady rate.
    #[arg(long, env = "HOLDPOINT_CREATE_BURST", default_value = "200",
          value_parser = clap::value_parser!(u32).range(1..), global = true)]
    pub create_burst: u32,

    /// How many `/wait` calls one API key may have parked at once; beyond
    /// it, 429 with Retry-After.
    #[arg(long, env = "HOLDPOINT_MAX_WAITS_PER_KEY", default_value = "1000",
          value_parser = clap::value_parser!(u32).range(1..), global = true)]
    pub max_waits_per_key: u32,

    /// How many live inboxes (browser tabs) one person may have open at
    /// once; beyond it, 429.
    #[arg(long, env = "HOLDPOINT_MAX_INBOXES_PER_PERSON", default_value = "20",
          value_parser = clap::value_parser!(u32).range(1..), global = true)]
    pub max_inboxes_per_person: u32,

    /// The longest one MCP `wait_for_approval` call waits before it answers
    /// `pending` (the agent calls again): below the tool-call limit of
    /// every MCP client in use (often 60 s). 1s to 60s.
    #[arg(long, env = "HOLDPOINT_MCP_WAIT", default_value = "45s",
          value_parser = parse_mcp_wait, global = true)]
    pub mcp_wait: Duration,

    /// Host names (or host:port) that `/mcp` answers to, comma-separated.
    /// Default: the public URL's host, localhost, 127.0.0.1 and ::1 (a
    /// guard against DNS rebinding).
    #[arg(
        long,
        env = "HOLDPOINT_MCP_ALLOWED_HOSTS",
        value_delimiter = ',',
        global = true
    )]
    pub mcp_allowed_hosts: Vec<String>,

    /// Browser origins allowed to call `/mcp` (scheme://host:port),
    /// comma-separated. Default: the public URL's origin only. Clients that
    /// are not browsers send no Origin and are not affected.
    #[arg(
        long,
        env = "HOLDPOINT_MCP_ALLOWED_ORIGINS",
        value_delimiter = ',',
        global = true
    )]
    pub mcp_allowed_origins: Vec<String>,

    /// How long a denial stands against a request repeating it (same key,
    /// action kind and data): its card says so, and a policy with "deny
    /// repeats" denies it at once.
    #[arg(long, env = "HOLDPOINT_REPEAT_WINDOW", default_value = "7d",
          value_parser = parse_duration, global = true)]
    pub repeat_window: Duration,

    /// Seed of the sampling policies' random draws: the same seed draws the
    /// same approvals for review (tests, reproducing a run). Default: a
    /// fresh seed at each start.
    #[arg(long, env = "HOLDPOINT_SAMPLE_SEED", global = true)]
    pub sample_seed: Option<u64>,

    /// A suggestion to loosen a gate needs this many approvals by people in
    /// a row (since the last denial)...
    #[arg(
        long,
        env = "HOLDPOINT_SUGGEST_STREAK",
        default_value_t = 250,
        global = true
    )]
    pub suggest_streak: u64,

    /// ...spread over at least this many days...
    #[arg(
        long,
        env = "HOLDPOINT_SUGGEST_DAYS",
        default_value_t = 14,
        global = true
    )]
    pub suggest_days: u64,

    /// ...by at least this many different people; it then suggests
    /// sampling this share (percent) for review.
    #[arg(
        long,
        env = "HOLDPOINT_SUGGEST_APPROVERS",
        default_value_t = 3,
        global = true
    )]
    pub suggest_approvers: u64,

    #[arg(long, env = "HOLDPOINT_SUGGEST_SAMPLE_PERCENT", default_value_t = 10,
          value_parser = clap::value_parser!(u8).range(1..=100), global = true)]
    pub suggest_sample_percent: u8,

    /// Log level: error, warn, info, debug or trace.
    #[arg(long, env = "HOLDPOINT_LOG", default_value = "info", global = true)]
    pub log: tracing::Level,
}

impl ConfigArgs {
    /// The address to bind: the flag or HOLDPOINT_ADDR, else cargo-leptos's
    /// LEPTOS_SITE_ADDR, else the documented default.
    pub fn listen_addr(&self) -> Result<SocketAddr, String> {
        if let Some(addr) = self.addr {
            return Ok(addr);
        }
        match std::env::var("LEPTOS_SITE_ADDR") {
            Ok(raw) => raw
                .parse()
                .map_err(|e| format!("LEPTOS_SITE_ADDR={raw:?} is not an address: {e}")),
            Err(_) => Ok(SocketAddr::from(([127, 0, 0, 1], 3000))),
        }
    }

    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("holdpoint.db").display()),
        }
    }
}

/// Configuration the running server needs once the socket is bound.
#[derive(Debug, Clone)]
pub struct Config {
    /// Base URL without a trailing slash.
    pub public_url: String,
    /// The public URL's host name (no brackets around an IPv6 address): the
    /// name pages answer to besides `localhost` and IP addresses.
    pub public_host: String,
    pub default_expiry: Duration,
    /// Whether the session cookie gets the Secure attribute (public URL is https).
    pub secure_cookies: bool,
    pub webhooks: WebhookSettings,
    /// See [`ConfigArgs::live_backlog`].
    pub live_backlog: usize,
    /// See [`ConfigArgs::signin_address_limit`].
    pub signin_address_limit: u32,
    /// See [`ConfigArgs::trusted_proxies`].
    pub trusted_proxies: TrustedProxies,
    /// Per API key: see [`ConfigArgs::create_rate`] and `create_burst`.
    pub create_rate: Rate,
    pub max_waits_per_key: usize,
    pub max_inboxes_per_person: usize,
    pub mcp: McpSettings,
    pub policies: PolicySettings,
}

/// The policies' settings (see the `repeat_`, `sample_` and `suggest_`
/// arguments).
#[derive(Debug, Clone)]
pub struct PolicySettings {
    pub repeat_window: Duration,
    pub sample_seed: Option<u64>,
    pub suggest: SuggestThresholds,
}

/// What the evidence must show before a loosening is suggested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SuggestThresholds {
    pub streak: u64,
    pub days: u64,
    pub approvers: u64,
    pub sample_percent: u8,
}

/// The MCP endpoint's settings (see the `mcp_` arguments).
#[derive(Debug, Clone)]
pub struct McpSettings {
    pub wait_bound: Duration,
    pub allowed_hosts: Vec<String>,
    pub allowed_origins: Vec<String>,
}

fn parse_mcp_wait(raw: &str) -> Result<Duration, String> {
    let wait = parse_duration(raw)?;
    if (Duration::from_secs(1)..=Duration::from_secs(60)).contains(&wait) {
        Ok(wait)
    } else {
        Err(format!("{raw} is not from 1s to 60s"))
    }
}

/// The origin (scheme://host:port) of a URL, as browsers send it.
fn origin_of(url: &str) -> Option<String> {
    let url = reqwest::Url::parse(url).ok()?;
    let port = url.port_or_known_default()?;
    Some(format!("{}://{}:{port}", url.scheme(), url.host_str()?))
}

impl Config {
    pub fn new(args: &ConfigArgs, bound: SocketAddr) -> Self {
        let public_url = args
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{bound}"))
            .trim_end_matches('/')
            .to_owned();
        let public_host = reqwest::Url::parse(&public_url)
            .ok()
            .and_then(|url| url.host_str().map(str::to_owned))
            .unwrap_or_default()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        Config {
            secure_cookies: public_url.starts_with("https://"),
            public_host: public_host.clone(),
            default_expiry: args.default_expiry,
            live_backlog: args.live_backlog as usize,
            signin_address_limit: args.signin_address_limit,
            trusted_proxies: args.trusted_proxies.clone().reading(args.forwarded_header),
            create_rate: Rate {
                per_second: args.create_rate,
                burst: f64::from(args.create_burst),
            },
            max_waits_per_key: args.max_waits_per_key as usize,
            max_inboxes_per_person: args.max_inboxes_per_person as usize,
            mcp: McpSettings {
                wait_bound: args.mcp_wait,
                allowed_hosts: if args.mcp_allowed_hosts.is_empty() {
                    vec![
                        public_host.clone(),
                        "localhost".into(),
                        "127.0.0.1".into(),
                        "::1".into(),
                    ]
                } else {
                    args.mcp_allowed_hosts.clone()
                },
                allowed_origins: if args.mcp_allowed_origins.is_empty() {
                    origin_of(&public_url).into_iter().collect()
                } else {
                    args.mcp_allowed_origins.clone()
                },
            },
            policies: PolicySettings {
                repeat_window: args.repeat_window,
                sample_seed: args.sample_seed,
                suggest: SuggestThresholds {
                    streak: args.suggest_streak,
                    days: args.suggest_days,
                    approvers: args.suggest_approvers,
                    sample_percent: args.suggest_sample_percent,
                },
            },
            public_url: public_url.clone(),
            webhooks: WebhookSettings {
                schedule: args.webhook_retry_schedule.clone(),
                timeout: args.webhook_timeout,
                allow_private: args.webhook_allow_private,
                rotation_overlap: args.webhook_rotation_overlap,
                ca_file: args.webhook_ca_file.clone(),
                own_address: Some(bound),
            },
        }
    }

    pub fn approval_url(&self, id: &str) -> String {
        format!("{}/approvals/{id}", self.public_url)
    }
}
