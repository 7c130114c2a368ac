//! `assetsync user add|list|remove`: the admin console's local users, in the database of a configuration.
//! They work while `serve` runs on it (SQLite through WAL beside the service's writer; PostgreSQL shared).

use crate::config::Config;
use anyhow::Context as _;
use clap::{Args, Subcommand};
use domain::accounts::AccountRole;
use engine::accounts::{AccountsError, SessionPolicy, Users};
use std::io::BufRead as _;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct UserArgs {
    #[command(subcommand)]
    pub action: UserAction,
}

#[derive(Debug, Subcommand)]
pub enum UserAction {
    /// Adds a user; the password is read from standard input (one line, at least 10 characters).
    Add {
        /// The TOML configuration file; without it, the configuration comes from `ASSETSYNC_*` variables alone.
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long)]
        username: String,
        /// `admin` (changes things) or `viewer` (sees everything, changes nothing).
        #[arg(long, value_parser = ["admin", "viewer"])]
        role: String,
    },
    /// Lists the users with their roles.
    List {
        /// The TOML configuration file; without it, the configuration comes from `ASSETSYNC_*` variables alone.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Removes a user; their sessions end at once.
    Remove {
        /// The TOML configuration file; without it, the configuration comes from `ASSETSYNC_*` variables alone.
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long)]
        username: String,
    },
}

/// The users of the database the configuration names.
pub async fn users_of(config: &Config) -> anyhow::Result<Users> {
    let store = store::open_accounts(&config.database_url, crate::launch::secret_key_from_env()?)
        .await
        .with_context(|| {
            format!(
                "could not open the database {}",
                store::redact_url(&config.database_url)
            )
        })?;
    Ok(Users::new(
        store,
        engine::clock::system(),
        SessionPolicy::default(),
    ))
}

pub async fn run(args: UserArgs) -> anyhow::Result<ExitCode> {
    match args.action {
        UserAction::Add {
            config,
            username,
            role,
        } => {
            let role = AccountRole::parse(&role)?;
            let mut password = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut password)
                .context("could not read the password from standard input")?;
            let password = password.trim_end_matches(['\r', '\n']);
            let users = users_of(&Config::load(config.as_deref())?).await?;
            match users.add(&username, role, password).await {
                Ok(user) => {
                    println!("added {} ({})", user.username, user.role);
                    Ok(ExitCode::SUCCESS)
                }
                Err(AccountsError::Invalid(error)) => anyhow::bail!("{error}"),
                Err(error) => Err(error.into()),
            }
        }
        UserAction::List { config } => {
            let users = users_of(&Config::load(config.as_deref())?).await?;
            let list = users.list().await?;
            if list.is_empty() {
                println!("no users yet: add one with `assetsync user add`");
            }
            for user in list {
                println!(
                    "{}\t{}\tadded {}",
                    user.username,
                    user.role,
                    domain::time::format_rfc3339_ms(user.created_ms)
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        UserAction::Remove { config, username } => {
            let users = users_of(&Config::load(config.as_deref())?).await?;
            if users.remove(&username).await? {
                println!("removed {username}");
                Ok(ExitCode::SUCCESS)
            } else {
                anyhow::bail!("there is no user named {username}")
            }
        }
    }
}

/// The demo's admin: a user `admin` with a random password (printed once; it is not stored anywhere else).
/// Returns the password.
#[cfg(feature = "sandbox")]
pub async fn one_time_admin(engine: &engine::Engine) -> anyhow::Result<String> {
    let mut password = engine::accounts::random_token()?;
    password.truncate(24);
    let users = engine.users(SessionPolicy::default());
    // A demo run again on the same folder: a new password for the same user.
    users.remove("admin").await?;
    users.add("admin", AccountRole::Admin, &password).await?;
    Ok(password)
}
