//! The state the membership file asks for: which rooms exist, who may enter which, who
//! moderates, who gets email. Pure: no I/O.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    ops::Bound,
};

use relais_core::config::{PublicConfig, PublicJoin};
use ruma::OwnedUserId;
use serde::{Deserialize, Serialize};

use crate::{
    model::{MemberRow, Role},
    text::{fold, slug},
    theme::{Theme, ThemeAccess},
};

/// What a provisioned room is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomKind {
    NationalSpace,
    FederationSpace,
    Discussion,
    Announcements,
    Section,
    Cell,
    /// The national room of every digital referent and the national team.
    Network,
    /// A public campaign space (national, or a federation's), apart from the members-only ones.
    PublicSpace,
    /// A room of a public space: anyone joins (or knocks); the file grants nothing in it.
    Public,
    /// A thematic room for the federation's members, entered through its space.
    Theme,
    /// A public thematic room: anyone joins (or knocks).
    PublicTheme,
}

impl RoomKind {
    pub const ALL: [Self; 11] = [
        Self::NationalSpace,
        Self::FederationSpace,
        Self::Discussion,
        Self::Announcements,
        Self::Section,
        Self::Cell,
        Self::Network,
        Self::PublicSpace,
        Self::Public,
        Self::Theme,
        Self::PublicTheme,
    ];

    /// The name stored in provisioning's record (the serde name).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NationalSpace => "national_space",
            Self::FederationSpace => "federation_space",
            Self::Discussion => "discussion",
            Self::Announcements => "announcements",
            Self::Section => "section",
            Self::Cell => "cell",
            Self::Network => "network",
            Self::PublicSpace => "public_space",
            Self::Public => "public",
            Self::Theme => "theme",
            Self::PublicTheme => "public_theme",
        }
    }

    /// Spaces contain rooms; rooms hold conversations.
    pub fn is_space(self) -> bool {
        matches!(self, Self::NationalSpace | Self::FederationSpace | Self::PublicSpace)
    }

    /// Open to anyone: nobody is invited or removed by the membership file there.
    pub fn is_public(self) -> bool {
        matches!(self, Self::PublicSpace | Self::Public | Self::PublicTheme)
    }

    /// Restricted rooms are entered by being in the federation space; the others by invitation.
    pub fn is_restricted(self) -> bool {
        matches!(self, Self::Discussion | Self::Announcements | Self::Theme)
    }

    /// Whether those allowed in are the space's, with no entries of its own: whoever may enter
    /// the federation space may enter it, and nobody is invited to it.
    pub fn admits_the_space(self) -> bool {
        self == Self::Theme
    }

    /// Creation order: a parent before its children (`has_parent`: whether this room is in a
    /// space; the national public space is not, a federation's is).
    pub fn level(self, has_parent: bool) -> u8 {
        match self {
            Self::NationalSpace => 0,
            Self::PublicSpace if !has_parent => 0,
            Self::FederationSpace | Self::PublicSpace => 1,
            _ => 2,
        }
    }
}

/// A room kind this version does not know (a record written by a newer one, or damaged).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown room kind")]
pub struct UnknownRoomKind;

impl std::str::FromStr for RoomKind {
    type Err = UnknownRoomKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|k| k.as_str() == s).ok_or(UnknownRoomKind)
    }
}

/// A room the file asks for. `key` is stable across exports and forms the alias.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomSpec {
    pub key: String,
    pub kind: RoomKind,
    pub name: String,
    /// The space that lists this room.
    pub parent: Option<String>,
    /// How a public room or space is entered; `None` for the members-only ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open: Option<Openness>,
}

/// How a public room is entered, from `[public] rooms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Openness {
    pub join: PublicJoin,
    /// Guests may read and join.
    pub guests: bool,
}

impl Openness {
    /// Public spaces: anyone joins, no guests.
    pub const SPACE: Self = Self { join: PublicJoin::Public, guests: false };
}

/// The whole desired state.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Desired {
    pub rooms: BTreeMap<String, RoomSpec>,
    /// (room key, member id) → Matrix user allowed in.
    pub access: BTreeMap<(String, String), OwnedUserId>,
    /// Room key → moderators (power level 50).
    pub moderators: BTreeMap<String, BTreeSet<OwnedUserId>>,
    /// (room key, member id) of email subscribers.
    pub subscriptions: BTreeSet<(String, String)>,
}

pub const NATIONAL: &str = "national";

pub fn federation_key(federation: &str) -> String {
    slug(federation)
}

pub fn section_key(federation: &str, section: &str) -> String {
    format!("{}.s.{}", slug(federation), slug(section))
}

pub fn cell_key(federation: &str, section: Option<&str>, cell: &str) -> String {
    match section {
        Some(section) => format!("{}.c.{}", section_key(federation, section), slug(cell)),
        None => format!("{}.c.{}", slug(federation), slug(cell)),
    }
}

pub fn discussion_key(federation: &str) -> String {
    format!("{}.discussion", slug(federation))
}

pub fn announcements_key(federation: &str) -> String {
    format!("{}.annonces", slug(federation))
}

/// The referents' network room.
pub const REFERENTS: &str = "national.referents";

/// What the member ids of the national team's access start with (they need not be in the file;
/// the file's ids never hold a `:`).
pub const TEAM_PREFIX: &str = "équipe:";

/// The member id the national team's access to the referents' network is recorded under.
pub fn team_member_id(user: &ruma::UserId) -> String {
    format!("{TEAM_PREFIX}{user}")
}

/// The national public space.
pub const NATIONAL_PUBLIC: &str = "national.public";

/// A federation's public space.
pub fn public_space_key(federation: &str) -> String {
    format!("{}.public", slug(federation))
}

fn cell_name(cell: &str) -> String {
    if fold(cell).starts_with("cellule") { cell.to_owned() } else { format!("Cellule {cell}") }
}

/// Computes the desired state of `rows` (one per member, already validated), with the public
/// spaces `public` asks for, the referents' network of the file's digital referents and the
/// national `team`, and the federations' thematic rooms `themes`.
pub fn desired(
    rows: &[MemberRow],
    national_name: &str,
    public: &PublicConfig,
    team: &[OwnedUserId],
    themes: &[Theme],
) -> Desired {
    let mut d = Desired::default();
    d.rooms.insert(
        NATIONAL.into(),
        RoomSpec {
            key: NATIONAL.into(),
            kind: RoomKind::NationalSpace,
            name: national_name.into(),
            parent: None,
            open: None,
        },
    );
    // A national file repeats each federation, section and cell many times: their keys are
    // made once.
    let mut keys: HashMap<(&str, Option<&str>, Option<&str>), RoomKeys> = HashMap::new();
    for row in rows {
        let row_keys = keys.entry(RoomKeys::id(row)).or_insert_with(|| RoomKeys::of(row));
        add_rooms(&mut d, row, row_keys);
    }
    add_public(&mut d, rows, public);
    // Before the members: the federation's office holders moderate its thematic rooms too.
    add_themes(&mut d, themes);
    add_room(&mut d, REFERENTS, RoomKind::Network, || "Réseau des référents numériques".into(), NATIONAL);
    for row in rows.iter().filter(|r| r.active) {
        let row_keys = keys.entry(RoomKeys::id(row)).or_insert_with(|| RoomKeys::of(row));
        add_member(&mut d, row, row_keys);
    }
    // The national team moderates the referents' network and the national public space.
    let national_rooms: Vec<String> = d
        .rooms
        .keys()
        .filter(|k| *k == REFERENTS || *k == NATIONAL_PUBLIC || k.starts_with(&format!("{NATIONAL_PUBLIC}.")))
        .cloned()
        .collect();
    for user in team {
        d.access.insert((REFERENTS.into(), team_member_id(user)), user.clone());
        for room in &national_rooms {
            d.moderators.entry(room.clone()).or_default().insert(user.clone());
        }
    }
    add_chosen_moderators(&mut d, rows, themes);
    d
}

/// The thematic rooms of federations the file has: members-only ones in the federation space,
/// restricted to it; public ones in the federation's public space when it has one.
fn add_themes(d: &mut Desired, themes: &[Theme]) {
    for theme in themes {
        if d.rooms.get(&theme.federation).is_none_or(|s| s.kind != RoomKind::FederationSpace) {
            continue;
        }
        let public_space = format!("{}.public", theme.federation);
        let (kind, parent, open) = match theme.access {
            ThemeAccess::Members => (RoomKind::Theme, theme.federation.clone(), None),
            ThemeAccess::Open(join) => {
                let parent =
                    if d.rooms.contains_key(&public_space) { public_space } else { theme.federation.clone() };
                (RoomKind::PublicTheme, parent, Some(Openness { join, guests: false }))
            }
        };
        d.rooms.entry(theme.key.clone()).or_insert(RoomSpec {
            key: theme.key.clone(),
            kind,
            name: theme.name.clone(),
            parent: Some(parent),
            open,
        });
    }
}

/// The moderators referents chose for thematic rooms: those who are active members of the
/// room's federation with an account (someone who lapses or moves stops moderating it).
fn add_chosen_moderators(d: &mut Desired, rows: &[MemberRow], themes: &[Theme]) {
    if themes.iter().all(|t| t.moderators.is_empty()) {
        return;
    }
    let federation_of: BTreeMap<&OwnedUserId, String> = rows
        .iter()
        .filter(|r| r.active)
        .filter_map(|r| Some((r.matrix_id.as_ref()?, federation_key(&r.federation))))
        .collect();
    for theme in themes.iter().filter(|t| d.rooms.contains_key(&t.key)) {
        for user in &theme.moderators {
            if federation_of.get(user) == Some(&theme.federation) {
                d.moderators.entry(theme.key.clone()).or_default().insert(user.clone());
            }
        }
    }
}

fn add_room(d: &mut Desired, key: &str, kind: RoomKind, name: impl FnOnce() -> String, parent: &str) {
    // The first spelling met names the room; later rows with another case keep it.
    if !d.rooms.contains_key(key) {
        let spec =
            RoomSpec { key: key.to_owned(), kind, name: name(), parent: Some(parent.to_owned()), open: None };
        d.rooms.insert(key.to_owned(), spec);
    }
}

/// The keys of the rooms a row puts its member in.
struct RoomKeys {
    federation: String,
    discussion: String,
    announcements: String,
    section: Option<String>,
    cell: Option<String>,
}

impl RoomKeys {
    /// What the keys depend on.
    fn id(row: &MemberRow) -> (&str, Option<&str>, Option<&str>) {
        (row.federation.as_str(), row.section.as_deref(), row.cell.as_deref())
    }

    fn of(row: &MemberRow) -> Self {
        let fed = &row.federation;
        Self {
            federation: federation_key(fed),
            discussion: discussion_key(fed),
            announcements: announcements_key(fed),
            section: row.section.as_deref().map(|section| section_key(fed, section)),
            cell: row.cell.as_deref().map(|cell| cell_key(fed, row.section.as_deref(), cell)),
        }
    }

    /// Federation rooms first.
    fn all(&self) -> impl Iterator<Item = &String> {
        [&self.federation, &self.discussion, &self.announcements]
            .into_iter()
            .chain(&self.section)
            .chain(&self.cell)
    }
}

/// The rooms whose key starts with `prefix`, in key order.
fn keys_under(rooms: &BTreeMap<String, RoomSpec>, prefix: &str) -> Vec<String> {
    rooms
        .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
        .map(|(key, _)| key)
        .take_while(|key| key.starts_with(prefix))
        .cloned()
        .collect()
}

/// The public spaces and their rooms: the national one (no parent) and each configured
/// federation's, in the national public space when there is one. Never children of a
/// members-only space: those stay as the file makes them.
fn add_public(d: &mut Desired, rows: &[MemberRow], public: &PublicConfig) {
    let mut add = |key: String, kind, name: String, parent: Option<String>, open| {
        d.rooms.entry(key.clone()).or_insert(RoomSpec { key, kind, name, parent, open: Some(open) });
    };
    let national = public.national.then(|| NATIONAL_PUBLIC.to_owned());
    if let Some(space) = &national {
        add(space.clone(), RoomKind::PublicSpace, "PCF — espace public".into(), None, Openness::SPACE);
        for room in &public.rooms {
            let open = Openness { join: room.join, guests: room.guests };
            add(
                format!("{space}.{}", room.slug),
                RoomKind::Public,
                room.name.clone(),
                Some(space.clone()),
                open,
            );
        }
    }
    let federations: BTreeMap<String, &str> = rows
        .iter()
        .filter(|r| public.federation_has_space(&r.federation))
        .map(|r| (federation_key(&r.federation), r.federation.as_str()))
        .collect();
    for (fed_key, federation) in federations {
        let space = format!("{fed_key}.public");
        let name = format!("Fédération {federation} — espace public");
        add(space.clone(), RoomKind::PublicSpace, name, national.clone(), Openness::SPACE);
        for room in &public.rooms {
            let open = Openness { join: room.join, guests: room.guests };
            let name = format!("{} ({federation})", room.name);
            add(format!("{space}.{}", room.slug), RoomKind::Public, name, Some(space.clone()), open);
        }
    }
}

fn add_rooms(d: &mut Desired, row: &MemberRow, keys: &RoomKeys) {
    let fed = &row.federation;
    add_room(d, &keys.federation, RoomKind::FederationSpace, || format!("Fédération {fed}"), NATIONAL);
    let parent = &keys.federation;
    add_room(d, &keys.discussion, RoomKind::Discussion, || format!("{fed} — discussion"), parent);
    add_room(d, &keys.announcements, RoomKind::Announcements, || format!("{fed} — annonces"), parent);
    if let (Some(section), Some(key)) = (&row.section, &keys.section) {
        add_room(d, key, RoomKind::Section, || format!("Section {section} ({fed})"), parent);
    }
    if let (Some(cell), Some(key)) = (&row.cell, &keys.cell) {
        add_room(d, key, RoomKind::Cell, || format!("{} ({fed})", cell_name(cell)), parent);
    }
}

/// The rooms a member belongs to, federation rooms first.
pub fn member_rooms(row: &MemberRow) -> Vec<String> {
    RoomKeys::of(row).all().cloned().collect()
}

fn add_member(d: &mut Desired, row: &MemberRow, keys: &RoomKeys) {
    if let Some(user) = &row.matrix_id {
        for room in keys.all() {
            d.access.insert((room.clone(), row.member_id.clone()), user.clone());
        }
        let fed_moderator =
            row.roles.iter().any(|r| matches!(r, Role::FederationSecretary | Role::DigitalReferent));
        let section_moderator = row.roles.contains(&Role::SectionSecretary);
        if fed_moderator {
            // The federation's office holders moderate every room of their federation.
            let children = keys_under(&d.rooms, &format!("{}.", keys.federation));
            let rooms = [&keys.federation, &keys.discussion, &keys.announcements].into_iter().cloned();
            for room in rooms.chain(children) {
                d.moderators.entry(room).or_default().insert(user.clone());
            }
        }
        if row.roles.contains(&Role::DigitalReferent) {
            d.access.insert((REFERENTS.into(), row.member_id.clone()), user.clone());
        }
        if section_moderator && let Some(key) = &keys.section {
            let cells = keys_under(&d.rooms, &format!("{key}.c."));
            for room in std::iter::once(key.clone()).chain(cells) {
                d.moderators.entry(room).or_default().insert(user.clone());
            }
        }
    }
    if row.is_email_subscriber() {
        d.subscriptions.insert((keys.announcements.clone(), row.member_id.clone()));
        if let Some(section) = &keys.section {
            d.subscriptions.insert((section.clone(), row.member_id.clone()));
        }
    }
}
