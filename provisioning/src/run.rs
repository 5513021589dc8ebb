//! One provisioning run, as the CLI and the referents' page start it: read, resume what a
//! previous run left, plan, guard, journal, apply.
//!
//! Every run holds the provisioning lease ([`crate::apply::LEASE`]), taken by its caller, which
//! decides whether to wait for it: planning against a record another run is changing, or
//! journaling beside it, would plan the same actions twice.

use serde::Serialize;

use relais_core::{StoreError, store::lease::Lease};

use crate::{
    apply::{Applier, ApplyError, ApplyReport, recorded},
    plan::{Action, Plan, PlanOptions, Recorded, plan},
    reader::{FileError, ReadReport, read},
    store::{NewRun, ProvisioningStore, RunState},
};

/// How to run.
#[derive(Debug, Clone)]
pub struct Options {
    pub dry_run: bool,
    /// Apply even when the removal guard refuses (the referent confirmed the removals).
    pub force: bool,
    /// Accept a file lacking a column the previous import read (the command line's `--force`
    /// only: a referent confirming removals does not also accept emptying a column).
    pub accept_missing_columns: bool,
    pub max_removal_percent: u32,
    pub national_name: String,
    /// The public spaces beside the members-only hierarchy.
    pub public: relais_core::config::PublicConfig,
    /// The national team, in the referents' network.
    pub national_team: Vec<ruma::OwnedUserId>,
    /// Invite members without an account by email.
    pub invitations: bool,
    /// The file is one federation's export (its name as in the file): only its members change.
    pub federation: Option<String>,
    /// Where the file came from, for the run history (a file name, never its content).
    pub source: String,
}

/// What happened.
#[derive(Debug)]
pub struct Outcome {
    pub report: ReadReport,
    pub plan: Plan,
    /// Work a previous, interrupted run left and this run finished first.
    pub resumed: Option<ApplyReport>,
    /// The plan's application (`None` for a dry run or a refused plan).
    pub applied: Option<ApplyReport>,
    /// Refused by the safety guard.
    pub refused: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error(transparent)]
    Apply(#[from] ApplyError),
    /// The plan was journaled, then applying it stopped: the rest is finished by the next run
    /// (or the drift timer); the file need not be sent again.
    #[error("{0}")]
    Unfinished(ApplyError),
    #[error(transparent)]
    Store(StoreError),
    /// Columns the previous import read are missing: every member would lose that field.
    #[error(
        "colonne(s) absente(s) du fichier alors que l'import précédent les avait : {} ; sans elles, \
         ce champ serait vidé pour chaque adhérent. Vérifiez l'export (ou forcez l'import en ligne de \
         commande avec --force si la colonne a vraiment disparu)",
        .0.join(", ")
    )]
    MissingColumns(Vec<String>),
}

#[derive(Serialize)]
struct Summary<'a> {
    counts: std::collections::BTreeMap<&'static str, usize>,
    rows: usize,
    errors: usize,
    recorded_active: usize,
    removed_active: usize,
    losing_access: usize,
    awaiting_account: usize,
    kept_out: usize,
    source: &'a str,
}

impl From<StoreError> for RunError {
    /// A fenced write refused because the lease is someone else's is a lost lease.
    fn from(error: StoreError) -> Self {
        match ApplyError::from(error) {
            ApplyError::Store(error) => Self::Store(error),
            lost => Self::Apply(lost),
        }
    }
}

/// Fails once the lease is lost: another run may be planning or applying.
fn held(lease: &Lease) -> Result<(), ApplyError> {
    if lease.is_lost() { Err(ApplyError::LeaseLost) } else { Ok(()) }
}

/// Runs provisioning of the file `bytes`, holding the provisioning lease `lease`.
pub async fn provision(
    bytes: &[u8],
    applier: &Applier,
    options: &Options,
    lease: &Lease,
) -> Result<Outcome, RunError> {
    let report = read(bytes)?;
    let store = &applier.records();
    let scope = options.federation.as_deref().map(crate::desired::federation_key);
    if !options.accept_missing_columns {
        check_columns(store, scope.as_deref(), &report.columns).await?;
    }
    let resumed = if options.dry_run {
        None
    } else {
        let resumed = applier.finish_pending(lease).await?;
        (resumed.done + resumed.failed.len() > 0).then_some(resumed)
    };
    let snapshot = store.snapshot().await?;
    let mut recorded = recorded(&snapshot);
    let report = match &options.federation {
        Some(federation) => crate::plan::scope_report(report, federation, &recorded),
        None => report,
    };
    // Sympathisers the file now names as members keep the account they made: only rows this
    // file may speak for (a federation's export, its own members), after scoping.
    let sympathisers = store.sympathiser_accounts().await?;
    let links = crate::sympathiser::links(&report.rows, &recorded, &sympathisers);
    recorded.linked.extend(links.iter().cloned());
    let plan_options = PlanOptions {
        national_name: options.national_name.clone(),
        public: options.public.clone(),
        national_team: options.national_team.clone(),
        invitations: options.invitations,
        now_ms: relais_core::time::now_ms(),
        scope,
    };
    let plan = plan(&report, &recorded, &plan_options);
    let summary = serde_json::to_string(&Summary {
        counts: plan.summary(),
        rows: report.rows.len(),
        errors: report.errors.len(),
        recorded_active: plan.recorded_active,
        removed_active: plan.removed_active,
        losing_access: plan.losing_access,
        awaiting_account: plan.awaiting_account,
        kept_out: plan.kept_out,
        source: &options.source,
    })
    .unwrap_or_default();
    let errors = serde_json::to_string(&report.errors).unwrap_or_default();
    let columns = serde_json::to_string(&report.columns).unwrap_or_default();
    let run = NewRun {
        summary: &summary,
        errors: &errors,
        scope: plan_options.scope.as_deref(),
        columns: Some(&columns),
        ..NewRun::new(&applier.actor, &options.source)
    };
    let refused = plan.exceeds_removal_limit(options.max_removal_percent) && !options.force;
    if options.dry_run || refused {
        let state = if refused { RunState::Refused } else { RunState::DryRun };
        store.record_run(lease.fence(), &run, state).await?;
        return Ok(Outcome { report, plan, resumed, applied: None, refused });
    }
    let journal = Action::journal(&plan.actions);
    held(lease)?;
    let links: Vec<(String, String)> =
        links.into_iter().map(|(member, user)| (member, user.into())).collect();
    store.link_sympathisers(lease.fence(), &links).await?;
    store.start_run(lease.fence(), &run, &journal).await?;
    let applied = applier.finish_pending(lease).await.map_err(RunError::Unfinished)?;
    Ok(Outcome { report, plan, resumed, applied: Some(applied), refused })
}

/// Refuses a file lacking a column the previous import of the same scope (or the national file)
/// had: a renamed or dropped "Identifiant Matrix" would otherwise empty it for every member.
async fn check_columns(
    store: &ProvisioningStore,
    scope: Option<&str>,
    columns: &[&'static str],
) -> Result<(), RunError> {
    let Some(previous) = store.last_columns(scope).await? else { return Ok(()) };
    let previous: Vec<String> = serde_json::from_str(&previous)
        .map_err(|e| RunError::Store(StoreError::unreadable_json("recorded import columns", &e)))?;
    let missing: Vec<String> = previous.into_iter().filter(|c| !columns.contains(&c.as_str())).collect();
    if missing.is_empty() { Ok(()) } else { Err(RunError::MissingColumns(missing)) }
}

/// What a drift check found and did.
#[derive(Debug)]
pub struct DriftOutcome {
    pub report: crate::drift::DriftReport,
    pub applied: Option<ApplyReport>,
}

/// Compares the homeserver with the record and repairs the difference (unless `dry_run`),
/// holding the provisioning lease `lease`.
pub async fn drift(applier: &Applier, dry_run: bool, lease: &Lease) -> Result<DriftOutcome, RunError> {
    let store = &applier.records();
    if !dry_run {
        applier.finish_pending(lease).await?;
    }
    let snapshot = store.snapshot().await?;
    let room_ids = snapshot.rooms.iter().map(|r| (r.key.clone(), r.room_id.clone())).collect();
    let recorded = recorded(&snapshot);
    let hs = &applier.homeserver;
    let observed = crate::apply::observe::observe(&hs.client, &room_ids, &recorded, applier.concurrency)
        .await
        .map_err(|e| ApplyError::HomeserverDown(e.to_string()))?;
    let report = crate::drift::repair(&recorded, &observed, &hs.bot);
    let summary = serde_json::json!({"actions": report.actions.len(), "guests": report.guests, "respected": report.respected}).to_string();
    let run = NewRun { summary: &summary, ..NewRun::new(&applier.actor, "drift") };
    if dry_run || report.actions.is_empty() {
        let state = if dry_run { RunState::DryRun } else { RunState::Done };
        store.record_run(lease.fence(), &run, state).await?;
        return Ok(DriftOutcome { report, applied: None });
    }
    let journal = Action::journal(&report.actions);
    held(lease)?;
    store.start_run(lease.fence(), &run, &journal).await?;
    let applied = applier.finish_pending(lease).await?;
    Ok(DriftOutcome { report, applied: Some(applied) })
}

/// Lets a member who just created their account into their spaces and rooms, at once: the
/// member's recorded row with their new id is planned, every other member frozen as recorded.
/// Holds the provisioning lease `lease`.
pub async fn welcome(
    applier: &Applier,
    member_id: &str,
    provisioning: &relais_core::config::ProvisioningConfig,
    lease: &Lease,
) -> Result<ApplyReport, RunError> {
    let store = &applier.records();
    let snapshot = store.snapshot().await?;
    let recorded = recorded(&snapshot);
    let Some(mut row) = recorded.members.get(member_id).cloned() else {
        return Ok(ApplyReport::default());
    };
    row.matrix_id = recorded.linked.get(member_id).cloned().or(row.matrix_id);
    row.line = 1;
    let report = frozen_report(&recorded, vec![row]);
    // The public spaces are the imports' to make: a welcome only lets one member in.
    let options = PlanOptions {
        national_name: provisioning.national_name.clone(),
        invitations: false,
        now_ms: 0,
        scope: None,
        public: Default::default(),
        national_team: provisioning.national_team.clone(),
    };
    let mut plan = plan(&report, &recorded, &options);
    // Nobody else loses anything in a welcome, whatever changed in the configuration since the
    // last import: that is the next import's to plan, with its removal guard.
    plan.actions.retain(|action| {
        // Thematic rooms are made by their own pass (or an import): nothing is done here in one
        // not made yet.
        if action
            .room()
            .is_some_and(|room| crate::theme::is_theme_key(room) && !recorded.rooms.contains_key(room))
        {
            return false;
        }
        match action {
            Action::Kick { member_id: who, .. } | Action::Unsubscribe { member_id: who, .. } => {
                who == member_id
            }
            Action::SetModerators { room, moderators } => recorded
                .moderators
                .get(room)
                .is_none_or(|had| had.iter().all(|user| moderators.contains(user))),
            _ => true,
        }
    });
    let journal = Action::journal(&plan.actions);
    held(lease)?;
    store.start_run(lease.fence(), &NewRun::new(&applier.actor, "onboarding"), &journal).await?;
    Ok(applier.finish_pending(lease).await?)
}

/// A file of `rows` in which every other recorded member stays as recorded.
fn frozen_report(recorded: &Recorded, rows: Vec<crate::model::MemberRow>) -> ReadReport {
    let named: std::collections::BTreeSet<&str> = rows.iter().map(|r| r.member_id.as_str()).collect();
    ReadReport {
        frozen_ids: recorded.members.keys().filter(|id| !named.contains(id.as_str())).cloned().collect(),
        rows,
        errors: Vec::new(),
        encoding: crate::reader::Encoding::Utf8,
        separator: ';',
        ignored_columns: Vec::new(),
        columns: Vec::new(),
    }
}

/// How long a thematic room that could not be made waits before the next try.
pub const THEME_RETRY_MS: i64 = 10 * 60 * 1000;

/// What a pass did with the thematic rooms: each pending one, and whether it is now as its
/// record says.
#[derive(Debug, Default)]
pub struct ThemesPass {
    pub done: Vec<String>,
    pub failed: Vec<String>,
    /// Another run's actions wait in the journal: left to it (the resume, the next import).
    pub busy: bool,
}

/// Makes the thematic rooms referents recorded since the last pass and sets their moderators,
/// from what is recorded around each ([`crate::theme::actions`]: no member's access changes,
/// no other room is touched). A room that could not be made waits [`THEME_RETRY_MS`]. Holds
/// the provisioning lease `lease`; never finishes another run's actions.
pub async fn realize_themes(applier: &Applier, lease: &Lease) -> Result<ThemesPass, RunError> {
    let store = &applier.records();
    let now = relais_core::time::now_ms();
    let pending = store.pending_themes(now).await?;
    let mut pass = ThemesPass::default();
    if pending.is_empty() {
        return Ok(pass);
    }
    if store.has_pending().await? {
        pass.busy = true;
        return Ok(pass);
    }
    let themes = store.themes(None).await?;
    let mut actions = Vec::new();
    for theme in themes.iter().filter(|t| pending.iter().any(|p| p.key == t.key)) {
        let context = store.theme_context(&theme.key, &theme.federation).await?;
        let chosen = store.active_in_federation(&theme.moderators, &theme.federation).await?;
        actions.extend(crate::theme::actions(theme, &context, &chosen));
    }
    if !actions.is_empty() {
        let journal = Action::journal(&actions);
        held(lease)?;
        store.start_run(lease.fence(), &NewRun::new(&applier.actor, "themes"), &journal).await?;
        applier.finish_pending(lease).await?;
    }
    // Each is done when nothing is left to do for it (its room made, its moderators set).
    for done in &pending {
        let Some(theme) = themes.iter().find(|t| t.key == done.key) else { continue };
        let context = store.theme_context(&theme.key, &theme.federation).await?;
        let chosen = store.active_in_federation(&theme.moderators, &theme.federation).await?;
        if context.space.is_some() && crate::theme::actions(theme, &context, &chosen).is_empty() {
            store.theme_realized(done).await?;
            pass.done.push(done.key.clone());
        } else {
            store.theme_failed(&done.key, now + THEME_RETRY_MS).await?;
            pass.failed.push(done.key.clone());
        }
    }
    Ok(pass)
}
