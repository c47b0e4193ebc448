//! The `holdpoint` command line.

use crate::server::app::{open_service_for_commands, Application};
use crate::server::config::ConfigArgs;
use crate::server::domain::Role;
use crate::server::exports::decision_query;
use crate::server::service::{Actor, ChainCheck, CreatedKey, DecisionReader, NewKey};
use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use serde_json::json;
use std::io::Read;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "holdpoint",
    version,
    about = "Holdpoint: the pause button in front of your AI agents' irreversible actions.",
    long_about = "Holdpoint: the pause button in front of your AI agents' irreversible actions.\n\n\
                  With no subcommand, runs the server (as `holdpoint serve`)."
)]
struct Cli {
    #[command(flatten)]
    config: ConfigArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server: web inbox, agent API and background work (the default).
    Serve,
    /// Create users and API keys (for scripts and the first setup).
    Admin {
        /// Print what the command did as one JSON object on stdout (for
        /// scripts), instead of text.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Write decided approvals (with their reasons) as JSON lines to
    /// stdout, streamed: the denial reasons as data.
    Export {
        #[command(subcommand)]
        command: ExportCommand,
    },
    /// Serve MCP on stdin and stdout, for a local agent's config (Claude
    /// Code, Claude Desktop): its tools act on a Holdpoint server's API with
    /// one API key. Logs go to stderr.
    Mcp {
        /// The Holdpoint server's URL.
        #[arg(long, env = "HOLDPOINT_URL", default_value = "http://127.0.0.1:3000")]
        url: String,
        /// The agent's API key.
        #[arg(long, env = "HOLDPOINT_API_KEY", hide_env_values = true)]
        api_key: String,
    },
    /// List, create, change and delete policies (as the Policies page
    /// does; each change is audited as `cli`).
    Policy {
        /// Print the outcome as JSON on stdout.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Check the audit log's hash chain.
    Audit {
        /// Print the outcome as one JSON object on stdout.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Debug, Subcommand)]
enum ExportCommand {
    /// Decided approvals: id, title, action, agent, data, outcome, reason,
    /// decided_by, created_at, decided_at, decision_seconds; one JSON object
    /// per line, oldest first.
    Decisions {
        /// Only this action kind ("none": approvals without one).
        #[arg(long)]
        kind: Option<String>,
        /// Only this agent (API key name).
        #[arg(long)]
        agent: Option<String>,
        /// Only these outcomes: approved, denied, expired, cancelled
        /// (comma-separated).
        #[arg(long)]
        outcome: Option<String>,
        /// Decided at or after: a date (2026-11-01) or an RFC 3339 time.
        #[arg(long)]
        since: Option<String>,
        /// Decided before: a date or an RFC 3339 time.
        #[arg(long)]
        until: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// The policies in the order they are tried (most specific first).
    List,
    /// Creates the policy NAME, or replaces it when it exists.
    Set {
        name: String,
        /// The action kinds it covers: billing.refund, email.* or *.
        #[arg(long)]
        action: String,
        /// Narrow it to one agent (an API key's name).
        #[arg(long)]
        agent: Option<String>,
        /// A CEL condition on the request (fields: action, title, agent,
        /// data), e.g. 'data.amount_cents <= 1000'.
        #[arg(long)]
        condition: Option<String>,
        /// gate, sample, auto or deny.
        #[arg(long)]
        mode: crate::model::PolicyMode,
        /// For sample: the percentage put in the review queue (1-100).
        #[arg(long)]
        sample_percent: Option<u8>,
        /// For deny: the reason the agent is given.
        #[arg(long)]
        deny_reason: Option<String>,
        /// Deny at once a request repeating a recent denial.
        #[arg(long)]
        deny_repeats: bool,
    },
    /// Deletes the policy NAME.
    Delete { name: String },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Walk the whole chain (in constant memory) and name the first entry
    /// that was edited, inserted or deleted; exits 1 if there is one. Prints
    /// the chain's head, to be written down elsewhere and compared later.
    Verify {
        /// A head written down earlier (`SEQ:HASH`): the chain must still
        /// hold that entry with that hash. Catches a tail cut off with the
        /// head row rewritten to match, which the chain alone cannot.
        #[arg(long, value_name = "SEQ:HASH", value_parser = parse_head)]
        expect_head: Option<(i64, String)>,
    },
}

fn parse_head(raw: &str) -> Result<(i64, String), String> {
    let problem = || format!("{raw:?} is not SEQ:HASH, the head `audit verify` printed");
    let (seq, hash) = raw.split_once(':').ok_or_else(problem)?;
    let seq: i64 = seq
        .trim()
        .parse()
        .ok()
        .filter(|s| *s >= 1)
        .ok_or_else(problem)?;
    let hash = hash.trim().to_ascii_lowercase();
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(problem());
    }
    Ok((seq, hash))
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create a person who can sign in to the inbox and decide.
    CreateUser {
        /// Their email, used to sign in and to route approvals to them.
        #[arg(long)]
        email: String,
        /// Their display name (default: the part of the email before @).
        #[arg(long)]
        name: Option<String>,
        /// Read the password (at least 8 characters) from standard input.
        /// Passwords are never taken as arguments, which other users can see.
        #[arg(long, required = true)]
        password_stdin: bool,
        /// Their role: admin (everything), approver (decides what is
        /// routed to them, their groups, or nobody), viewer (sees, never
        /// decides).
        #[arg(long, default_value = "approver", value_parser = parse_role, conflicts_with = "admin")]
        role: Role,
        /// Shorthand for --role admin.
        #[arg(long)]
        admin: bool,
    },
    /// Give a person another role (admin, approver or viewer). Their open
    /// inboxes show the change at once; the last active admin keeps theirs.
    SetRole {
        #[arg(long)]
        email: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
    },
    /// Create a group of approvers (a name such as billing or data-ops).
    /// Approvals routed to it are its members' to decide.
    CreateGroup {
        #[arg(long)]
        name: String,
    },
    /// Add a person to a group.
    AddToGroup {
        #[arg(long)]
        group: String,
        #[arg(long)]
        email: String,
    },
    /// Remove a person from a group.
    RemoveFromGroup {
        #[arg(long)]
        group: String,
        #[arg(long)]
        email: String,
    },
    /// List the groups and their members.
    Groups,
    /// Invite a person: prints a one-time link (valid 7 days) where they
    /// choose their password. Their account exists at once.
    Invite {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long, default_value = "approver", value_parser = parse_role)]
        role: Role,
    },
    /// Print a new one-time link (valid 7 days) with which a person sets a
    /// new password; their earlier links stop working.
    PasswordLink {
        #[arg(long)]
        email: String,
    },
    /// List everyone: email, role, status and groups.
    People,
    /// Create an API key for an agent. Prints the key once, on stdout.
    CreateKey {
        /// A name people recognise in the inbox, e.g. billing-agent.
        #[arg(long)]
        name: String,
        /// Email of the approver this key's approvals go to by default.
        #[arg(long, conflicts_with = "group")]
        approver: Option<String>,
        /// Name of the group this key's approvals go to by default.
        #[arg(long)]
        group: Option<String>,
        /// Where outcomes are sent as signed webhooks. Prints the endpoint's
        /// signing secret (whsec_...) once, on the second line.
        #[arg(long)]
        webhook_url: Option<String>,
    },
    /// Point an API key's webhooks at a URL (creating its endpoint, and
    /// printing its new signing secret, if it had none).
    SetWebhookUrl {
        /// The API key's name.
        #[arg(long)]
        key: String,
        #[arg(long)]
        url: String,
    },
    /// Give an API key's webhook endpoint a new signing secret (printed once).
    /// Deliveries carry both signatures for HOLDPOINT_WEBHOOK_ROTATION_OVERLAP.
    RotateWebhookSecret {
        /// The API key's name.
        #[arg(long)]
        key: String,
    },
    /// Change where an API key's approvals go when its agent names no one:
    /// an approver, a group, or (neither) anyone who may decide.
    SetKeyRoute {
        #[arg(long)]
        name: String,
        #[arg(long, conflicts_with = "group")]
        approver: Option<String>,
        #[arg(long)]
        group: Option<String>,
    },
    /// Allow an agent's API keys to read the export of decided approvals
    /// (GET /api/v1/decisions), or with --refuse stop them.
    AllowDecisions {
        /// The API key's name.
        #[arg(long)]
        name: String,
        #[arg(long)]
        refuse: bool,
    },
    /// Give the agent of an API key a second key, beside its current one
    /// (same name, route and webhook endpoint). Prints the new key once;
    /// revoke the old one (on the Keys page) once the agent has switched.
    RotateKey {
        #[arg(long)]
        name: String,
    },
    /// Revoke every live API key with this name; requests with them get 401
    /// at once.
    RevokeKey {
        #[arg(long)]
        name: String,
    },
    /// Print a one-time link (valid 24 hours) that creates the first admin
    /// in the browser. Only while there is no account at all.
    SetupLink,
    /// Switch a person off: they can no longer sign in, every session of
    /// theirs ends now, and their open inboxes close within a second. Their
    /// decisions stay in the history. The last active admin cannot be.
    DeactivateUser {
        #[arg(long)]
        email: String,
    },
    /// Let a deactivated person sign in again (with their old password).
    ReactivateUser {
        #[arg(long)]
        email: String,
    },
    /// Sign a person out everywhere: every session ends now and their open
    /// inboxes close within a second; they may sign in again.
    EndSessions {
        #[arg(long)]
        email: String,
    },
}

async fn serve(args: &ConfigArgs) -> anyhow::Result<()> {
    Application::build(args).await?.run().await
}

pub async fn run() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.config.log);
    let result = match cli.command {
        None | Some(Command::Serve) => serve(&cli.config).await,
        Some(Command::Admin { json, command }) => admin(&cli.config, command, json).await,
        Some(Command::Audit { json, command }) => audit(&cli.config, command, json).await,
        Some(Command::Policy { json, command }) => policy(&cli.config, command, json).await,
        Some(Command::Export { command }) => export(&cli.config, command).await,
        Some(Command::Mcp { url, api_key }) => {
            crate::server::mcp::stdio::run(&url, &api_key, cli.config.mcp_wait).await
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // `:#` prints the whole chain: "creating the API key "x": no active approver ...".
            eprintln!("holdpoint: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to stderr (stdout is `holdpoint mcp`'s protocol and the admin
/// commands' output). rmcp logs every MCP message at info, and a client
/// that gave up on a call as an error: its lines appear only at `debug`
/// and `trace`; what fails on our side is logged by our own code.
fn init_logging(level: tracing::Level) {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::prelude::*;
    let protocol_level = if level >= tracing::Level::DEBUG {
        LevelFilter::from_level(level)
    } else {
        LevelFilter::OFF
    };
    let filter = Targets::new()
        .with_default(level)
        .with_target("rmcp", protocol_level);
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .with(filter)
        .init();
}

async fn admin(args: &ConfigArgs, command: AdminCommand, json: bool) -> anyhow::Result<()> {
    let service = open_service_for_commands(args).await?;
    let by = Actor::Command;
    let report = match command {
        AdminCommand::CreateUser {
            email,
            name,
            password_stdin: _,
            role,
            admin,
        } => {
            let mut password = String::new();
            std::io::stdin()
                .read_to_string(&mut password)
                .context("reading the password from stdin")?;
            let password = password.trim_end_matches(['\r', '\n']);
            let role = if admin { Role::Admin } else { role };
            let user = service
                .create_user(by, &email, name.as_deref(), password, role)
                .await
                .with_context(|| format!("creating the account {email}"))?;
            Report::note(format!(
                "Created {} {} ({}).",
                role.as_str(),
                user.email,
                user.id
            ))
            .with(json!({"id": user.id, "email": user.email, "role": role.as_str()}))
        }
        AdminCommand::CreateKey {
            name,
            approver,
            group,
            webhook_url,
        } => {
            let CreatedKey {
                key,
                secret,
                webhook_secret,
            } = service
                .create_api_key(
                    by,
                    NewKey {
                        name: &name,
                        default_approver: approver.as_deref(),
                        default_group: group.as_deref(),
                        webhook_url: webhook_url.as_deref(),
                    },
                )
                .await
                .with_context(|| format!("creating the API key {name:?}"))?;
            let mut report = Report::note(format!(
                "Created API key {:?} ({}). It is shown only now; store it where the agent reads it:",
                key.name, key.id
            ))
            .print(&secret);
            if let Some(webhook_secret) = &webhook_secret {
                report = report
                    .then_note("Webhook signing secret, shown only now; give it to the receiver:")
                    .print(webhook_secret);
            }
            report.with(json!({
                "id": key.id, "name": key.name, "key": secret, "webhook_secret": webhook_secret,
            }))
        }
        AdminCommand::SetWebhookUrl { key, url } => {
            let key_id = service
                .key_id_by_name(&key)
                .await
                .with_context(|| format!("finding the API key {key:?}"))?;
            let created = service
                .set_webhook_url(by, &key_id, &url)
                .await
                .with_context(|| format!("sending the webhooks of {key:?} to {url}"))?;
            let report = match &created.new_secret {
                Some(secret) => Report::note(format!(
                    "Webhooks of {key:?} now go to {url}. Signing secret, shown only now:"
                ))
                .print(secret),
                None => Report::note(format!(
                    "Webhooks of {key:?} now go to {url} (same signing secret)."
                )),
            };
            report.with(json!({"key": key, "url": url, "webhook_secret": created.new_secret}))
        }
        AdminCommand::RotateWebhookSecret { key } => {
            let key_id = service
                .key_id_by_name(&key)
                .await
                .with_context(|| format!("finding the API key {key:?}"))?;
            let secret = service
                .rotate_webhook_secret(by, &key_id)
                .await
                .with_context(|| format!("rotating the signing secret of {key:?}"))?
                .secret;
            let old_until = humantime_after(args.webhook_rotation_overlap);
            Report::note(format!(
                "New signing secret for {key:?}, shown only now. The old one also signs until {old_until}:"
            ))
            .print(&secret)
            .with(json!({"key": key, "webhook_secret": secret, "previous_secret_until": old_until}))
        }
        AdminCommand::SetKeyRoute {
            name,
            approver,
            group,
        } => {
            service
                .set_key_route(by, &name, approver.as_deref(), group.as_deref())
                .await
                .with_context(|| format!("routing the API key {name:?}"))?;
            let route = match (&approver, &group) {
                (Some(email), _) => email.clone(),
                (None, Some(group)) => format!("the {group} group"),
                (None, None) => "anyone who may decide".to_owned(),
            };
            Report::note(format!("Approvals of {name:?} now go to {route}."))
                .with(json!({"key": name, "approver": approver, "group": group}))
        }
        AdminCommand::AllowDecisions { name, refuse } => {
            service
                .set_key_reads_decisions(by, &name, !refuse)
                .await
                .with_context(|| format!("changing what the API key {name:?} may read"))?;
            let may = if refuse { "may no longer" } else { "may now" };
            Report::note(format!("The keys of {name:?} {may} read decisions."))
                .with(json!({"key": name, "reads_decisions": !refuse}))
        }
        AdminCommand::RotateKey { name } => {
            let created = service
                .rotate_api_key(by, &name)
                .await
                .with_context(|| format!("rotating the API key {name:?}"))?;
            Report::note(format!(
                "A second key for {:?} ({}), shown only now. Revoke the old one once the agent uses it:",
                created.key.name, created.key.id
            ))
            .print(&created.secret)
            .with(json!({"id": created.key.id, "name": created.key.name, "key": created.secret}))
        }
        AdminCommand::RevokeKey { name } => {
            if !service
                .revoke_api_key(by, &name)
                .await
                .with_context(|| format!("revoking the API key {name:?}"))?
            {
                bail!("no active API key is named {name:?}");
            }
            Report::note(format!("Revoked API key {name:?}.")).with(json!({"revoked": name}))
        }
        AdminCommand::SetupLink => {
            match service
                .open_first_start_setup()
                .await
                .context("opening first-start setup")?
            {
                Some(token) => {
                    let link = service.setup_link(&token);
                    Report::note(
                        "Open this link to create the first admin (it works once, for 24 hours):",
                    )
                    .print(&link)
                    .with(json!({"url": link}))
                }
                None => bail!(
                    "Holdpoint already has accounts: sign in, or use `holdpoint admin create-user`"
                ),
            }
        }
        AdminCommand::DeactivateUser { email } => {
            let user = service
                .set_user_active(by, &email, false)
                .await
                .with_context(|| format!("deactivating {email}"))?;
            Report::note(format!(
                "Deactivated {}: signed out everywhere, and cannot sign in.",
                user.email
            ))
            .with(json!({"email": user.email, "active": false}))
        }
        AdminCommand::ReactivateUser { email } => {
            let user = service
                .set_user_active(by, &email, true)
                .await
                .with_context(|| format!("reactivating {email}"))?;
            Report::note(format!(
                "Reactivated {}: they can sign in again.",
                user.email
            ))
            .with(json!({"email": user.email, "active": true}))
        }
        AdminCommand::SetRole { email, role } => {
            let user = service
                .set_role(by, &email, role)
                .await
                .with_context(|| format!("giving {email} the role {}", role.as_str()))?;
            Report::note(format!("{} is now {}.", user.email, role.as_str()))
                .with(json!({"email": user.email, "role": role.as_str()}))
        }
        AdminCommand::CreateGroup { name } => {
            let group = service
                .create_group(by, &name)
                .await
                .with_context(|| format!("creating the group {name:?}"))?;
            Report::note(format!("Created group {} ({}).", group.name, group.id))
                .with(json!({"id": group.id, "name": group.name}))
        }
        AdminCommand::AddToGroup { group, email } => {
            let added = service
                .set_group_member(by, &group, &email, true)
                .await
                .with_context(|| format!("adding {email} to {group:?}"))?;
            Report::note(match added {
                true => format!("Added {email} to {group}."),
                false => format!("{email} was already in {group}."),
            })
            .with(json!({"group": group, "email": email, "changed": added}))
        }
        AdminCommand::RemoveFromGroup { group, email } => {
            let removed = service
                .set_group_member(by, &group, &email, false)
                .await
                .with_context(|| format!("removing {email} from {group:?}"))?;
            Report::note(match removed {
                true => format!("Removed {email} from {group}."),
                false => format!("{email} was not in {group}."),
            })
            .with(json!({"group": group, "email": email, "changed": removed}))
        }
        AdminCommand::Groups => {
            let groups = service.groups(by).await.context("listing the groups")?;
            let mut report = Report::default();
            for group in &groups {
                report = report.print(&format!("{}\t{}", group.name, group.members.join(",")));
            }
            let list: Vec<_> = groups
                .iter()
                .map(|g| json!({"name": g.name, "members": g.members}))
                .collect();
            report.with(json!({"groups": list}))
        }
        AdminCommand::Invite { email, name, role } => {
            let link = service
                .invite(by, &email, name.as_deref(), role)
                .await
                .with_context(|| format!("inviting {email}"))?;
            Report::note(format!(
                "Invited {} as {}. Send them this link (it works once, for 7 days):",
                link.email,
                role.as_str()
            ))
            .print(&link.url)
            .with(
                json!({"email": link.email, "role": role.as_str(), "url": link.url,
                         "expires_at": link.expires_at}),
            )
        }
        AdminCommand::PasswordLink { email } => {
            let link = service
                .password_link(by, &email)
                .await
                .with_context(|| format!("making a password link for {email}"))?;
            Report::note(format!(
                "Send {} this link to choose a new password (it works once, for 7 days):",
                link.email
            ))
            .print(&link.url)
            .with(json!({"email": link.email, "url": link.url, "expires_at": link.expires_at}))
        }
        AdminCommand::People => {
            let people = service.people(by).await.context("listing people")?;
            let mut report = Report::default();
            let mut list = Vec::new();
            for person in &people {
                let status = person.status();
                report = report.print(&format!(
                    "{}\t{}\t{}\t{}",
                    person.user.email,
                    person.user.role.as_str(),
                    status,
                    person.group_names.join(",")
                ));
                list.push(json!({
                    "email": person.user.email, "name": person.user.name,
                    "role": person.user.role.as_str(), "status": status,
                    "groups": person.group_names,
                }));
            }
            report.with(json!({"people": list}))
        }
        AdminCommand::EndSessions { email } => {
            let ended = service
                .end_sessions(by, &email)
                .await
                .with_context(|| format!("ending the sessions of {email}"))?;
            Report::note(format!("Ended {ended} session(s) of {email}."))
                .with(json!({"email": email, "sessions_ended": ended}))
        }
    };
    report.emit(json);
    Ok(())
}

async fn export(args: &ConfigArgs, command: ExportCommand) -> anyhow::Result<()> {
    use std::io::Write;
    let ExportCommand::Decisions {
        kind,
        agent,
        outcome,
        since,
        until,
    } = command;
    let params: std::collections::HashMap<String, String> = [
        ("kind", kind),
        ("agent", agent),
        ("outcome", outcome),
        ("since", since),
        ("until", until),
    ]
    .into_iter()
    .filter_map(|(name, value)| value.map(|v| (name.to_owned(), v)))
    .collect();
    let query = decision_query(&params).map_err(|problem| anyhow::anyhow!(problem.detail))?;
    let service = open_service_for_commands(args).await?;
    let mut filter = service
        .decision_filter(DecisionReader::Command, &query)
        .await?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    loop {
        let lines = service
            .decisions_page(DecisionReader::Command, &filter)
            .await?;
        for line in &lines {
            serde_json::to_writer(&mut out, line)?;
            out.write_all(b"\n")?;
        }
        if (lines.len() as i64) < filter.limit {
            break;
        }
        filter.after = lines.last().map(|line| line.id.clone());
    }
    out.flush()?;
    Ok(())
}

async fn audit(args: &ConfigArgs, command: AuditCommand, json: bool) -> anyhow::Result<()> {
    let service = open_service_for_commands(args).await?;
    match command {
        AuditCommand::Verify { expect_head } => match service.verify_audit_chain().await? {
            ChainCheck::Holds { entries, head } => {
                if let Some((seq, hash)) = expect_head {
                    let found = service.audit_entry_hash(seq).await?;
                    let problem = match found {
                        Some(found) if found == hash => None,
                        Some(_) => Some(format!("entry {seq} has another hash than the head written down: it was rewritten")),
                        None => Some(format!(
                            "entry {seq}, the head written down, is missing: the chain ends at entry {} (its tail was cut off)",
                            head.seq
                        )),
                    };
                    if let Some(problem) = problem {
                        if json {
                            println!(
                                "{}",
                                json!({"holds": false, "entries_before": entries, "broken": problem})
                            );
                        }
                        bail!("the audit chain does not hold the head written down: {problem}");
                    }
                }
                Report::note(format!(
                    "The audit chain holds: {entries} entries. Its head is entry {} with hash:",
                    head.seq
                ))
                .print(&head.hash)
                .with(json!({"holds": true, "entries": entries, "head": head}))
                .emit(json);
                Ok(())
            }
            ChainCheck::Broken { entries, at } => {
                if json {
                    println!(
                        "{}",
                        json!({"holds": false, "entries_before": entries, "broken": at.to_string()})
                    );
                }
                bail!("the audit chain is broken: {at} ({entries} entries before it hold)")
            }
        },
    }
}

async fn policy(args: &ConfigArgs, command: PolicyCommand, json: bool) -> anyhow::Result<()> {
    use crate::model::{PolicyDraft, PolicySaved};
    let service = open_service_for_commands(args).await?;
    let policies = service.policy_views(Actor::Command).await?;
    let by_name = |name: &str| policies.iter().find(|p| p.name == name);
    match command {
        PolicyCommand::List => {
            let mut report = Report::default().with(json!({ "policies": policies }));
            if policies.is_empty() {
                report = report.then_note("No policies: a person decides every request.");
            }
            for (rank, p) in policies.iter().enumerate() {
                report = report.print(&format!(
                    "{}. {} [{}{}] {}{}{} ({})",
                    rank + 1,
                    p.name,
                    p.mode,
                    if p.mode == crate::model::PolicyMode::Sample {
                        format!(" {} %", p.sample_percent)
                    } else {
                        String::new()
                    },
                    p.action_pattern,
                    p.agent
                        .as_ref()
                        .map(|a| format!(" agent={a}"))
                        .unwrap_or_default(),
                    p.condition
                        .as_ref()
                        .map(|c| format!(" if {c}"))
                        .unwrap_or_default(),
                    p.specificity,
                ));
            }
            report.emit(json);
            Ok(())
        }
        PolicyCommand::Set {
            name,
            action,
            agent,
            condition,
            mode,
            sample_percent,
            deny_reason,
            deny_repeats,
        } => {
            let draft = PolicyDraft {
                id: by_name(&name).map(|p| p.id.clone()),
                name,
                action_pattern: action,
                agent,
                condition,
                mode: Some(mode),
                sample_percent,
                deny_reason,
                deny_repeats,
            };
            match service.save_policy(Actor::Command, &draft, None).await? {
                PolicySaved::Saved(view) => {
                    Report::note(format!(
                        "Saved policy {} ({}).",
                        view.name, view.specificity
                    ))
                    .print(&view.id)
                    .with(json!({ "policy": view }))
                    .emit(json);
                    Ok(())
                }
                PolicySaved::Refused(problems) => {
                    let lines: Vec<String> = problems
                        .iter()
                        .map(|p| format!("{}: {}", p.field, p.message))
                        .collect();
                    bail!("the policy was not saved: {}", lines.join("; "))
                }
            }
        }
        PolicyCommand::Delete { name } => {
            let policy =
                by_name(&name).with_context(|| format!("there is no policy named {name}"))?;
            service.delete_policy(Actor::Command, &policy.id).await?;
            Report::note(format!("Deleted policy {name}."))
                .with(json!({ "deleted": name }))
                .emit(json);
            Ok(())
        }
    }
}

/// What a command says: notes for the person (stderr), values for scripts
/// (stdout, one per line), or, with `--json`, one JSON object.
#[derive(Default)]
struct Report {
    lines: Vec<(bool, String)>,
    json: serde_json::Value,
}

impl Report {
    fn note(text: impl Into<String>) -> Self {
        Self::default().then_note(text)
    }

    fn then_note(mut self, text: impl Into<String>) -> Self {
        self.lines.push((false, text.into()));
        self
    }

    fn print(mut self, value: &str) -> Self {
        self.lines.push((true, value.to_owned()));
        self
    }

    fn with(mut self, json: serde_json::Value) -> Self {
        self.json = json;
        self
    }

    fn emit(self, json: bool) {
        if json {
            println!("{}", self.json);
            return;
        }
        for (to_stdout, line) in self.lines {
            if to_stdout {
                println!("{line}");
            } else {
                eprintln!("{line}");
            }
        }
    }
}

fn parse_role(raw: &str) -> Result<Role, String> {
    Role::parse(raw).ok_or_else(|| "a role is admin, approver or viewer".to_owned())
}

/// The time `after` from now, as an RFC 3339 UTC stamp.
fn humantime_after(after: std::time::Duration) -> String {
    let at = chrono::Utc::now() + chrono::Duration::from_std(after).unwrap_or_default();
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
