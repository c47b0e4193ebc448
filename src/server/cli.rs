//! The `holdpoint` command line.

use crate::server::app::{open_service_for_commands, Application};
use crate::server::config::ConfigArgs;
use crate::server::domain::Role;
use crate::server::service::{CreatedKey, NewKey};
use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
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
        #[command(subcommand)]
        command: AdminCommand,
    },
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
    /// Revoke the API key with this name; requests with it get 401 at once.
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
    tracing_subscriber::fmt()
        .with_max_level(cli.config.log)
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        None | Some(Command::Serve) => serve(&cli.config).await,
        Some(Command::Admin { command }) => admin(&cli.config, command).await,
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

async fn admin(args: &ConfigArgs, command: AdminCommand) -> anyhow::Result<()> {
    let service = open_service_for_commands(args).await?;
    match command {
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
                .create_user(&email, name.as_deref(), password, role)
                .await
                .with_context(|| format!("creating the account {email}"))?;
            eprintln!("Created {} {} ({}).", role.as_str(), user.email, user.id);
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
                .create_api_key(NewKey {
                    name: &name,
                    default_approver: approver.as_deref(),
                    default_group: group.as_deref(),
                    webhook_url: webhook_url.as_deref(),
                })
                .await
                .with_context(|| format!("creating the API key {name:?}"))?;
            eprintln!(
                "Created API key {:?} ({}). It is shown only now; store it where the agent reads it:",
                key.name, key.id
            );
            println!("{secret}");
            if let Some(webhook_secret) = webhook_secret {
                eprintln!("Webhook signing secret, shown only now; give it to the receiver:");
                println!("{webhook_secret}");
            }
        }
        AdminCommand::SetWebhookUrl { key, url } => {
            let key_id = service
                .key_id_by_name(&key)
                .await
                .with_context(|| format!("finding the API key {key:?}"))?;
            let created = service
                .set_webhook_url(&key_id, &url)
                .await
                .with_context(|| format!("sending the webhooks of {key:?} to {url}"))?;
            match created.new_secret {
                Some(secret) => {
                    eprintln!(
                        "Webhooks of {key:?} now go to {url}. Signing secret, shown only now:"
                    );
                    println!("{secret}");
                }
                None => eprintln!("Webhooks of {key:?} now go to {url} (same signing secret)."),
            }
        }
        AdminCommand::RotateWebhookSecret { key } => {
            let key_id = service
                .key_id_by_name(&key)
                .await
                .with_context(|| format!("finding the API key {key:?}"))?;
            let secret = service
                .rotate_webhook_secret(&key_id)
                .await
                .with_context(|| format!("rotating the signing secret of {key:?}"))?
                .secret;
            eprintln!(
                "New signing secret for {key:?}, shown only now. The old one also signs until {}:",
                humantime_after(args.webhook_rotation_overlap)
            );
            println!("{secret}");
        }
        AdminCommand::RevokeKey { name } => {
            if !service
                .revoke_api_key(&name)
                .await
                .with_context(|| format!("revoking the API key {name:?}"))?
            {
                bail!("no active API key is named {name:?}");
            }
            eprintln!("Revoked API key {name:?}.");
        }
        AdminCommand::SetupLink => {
            match service
                .open_first_start_setup()
                .await
                .context("opening first-start setup")?
            {
                Some(token) => {
                    eprintln!(
                        "Open this link to create the first admin (it works once, for 24 hours):"
                    );
                    println!("{}", service.setup_link(&token));
                }
                None => bail!(
                    "Holdpoint already has accounts: sign in, or use `holdpoint admin create-user`"
                ),
            }
        }
        AdminCommand::DeactivateUser { email } => {
            let user = service
                .set_user_active(&email, false)
                .await
                .with_context(|| format!("deactivating {email}"))?;
            eprintln!(
                "Deactivated {}: signed out everywhere, and cannot sign in.",
                user.email
            );
        }
        AdminCommand::ReactivateUser { email } => {
            let user = service
                .set_user_active(&email, true)
                .await
                .with_context(|| format!("reactivating {email}"))?;
            eprintln!("Reactivated {}: they can sign in again.", user.email);
        }
        AdminCommand::SetRole { email, role } => {
            let user = service
                .set_role(&email, role)
                .await
                .with_context(|| format!("giving {email} the role {}", role.as_str()))?;
            eprintln!("{} is now {}.", user.email, role.as_str());
        }
        AdminCommand::CreateGroup { name } => {
            let group = service
                .create_group(&name)
                .await
                .with_context(|| format!("creating the group {name:?}"))?;
            eprintln!("Created group {} ({}).", group.name, group.id);
        }
        AdminCommand::AddToGroup { group, email } => {
            let added = service
                .set_group_member(&group, &email, true)
                .await
                .with_context(|| format!("adding {email} to {group:?}"))?;
            match added {
                true => eprintln!("Added {email} to {group}."),
                false => eprintln!("{email} was already in {group}."),
            }
        }
        AdminCommand::RemoveFromGroup { group, email } => {
            let removed = service
                .set_group_member(&group, &email, false)
                .await
                .with_context(|| format!("removing {email} from {group:?}"))?;
            match removed {
                true => eprintln!("Removed {email} from {group}."),
                false => eprintln!("{email} was not in {group}."),
            }
        }
        AdminCommand::Groups => {
            for group in service.groups().await.context("listing the groups")? {
                println!("{}\t{}", group.name, group.members.join(","));
            }
        }
        AdminCommand::EndSessions { email } => {
            let ended = service
                .end_sessions(&email)
                .await
                .with_context(|| format!("ending the sessions of {email}"))?;
            eprintln!("Ended {ended} session(s) of {email}.");
        }
    }
    Ok(())
}

fn parse_role(raw: &str) -> Result<Role, String> {
    Role::parse(raw).ok_or_else(|| "a role is admin, approver or viewer".to_owned())
}

/// The time `after` from now, as an RFC 3339 UTC stamp.
fn humantime_after(after: std::time::Duration) -> String {
    let at = chrono::Utc::now() + chrono::Duration::from_std(after).unwrap_or_default();
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
