//! Property tests: reconciliation is idempotent, incremental processing in any order converges on the
//! galleries of all claims, `compute_gallery` keeps its role rules, and `evaluate` is total and deterministic.

use crate::support::*;
use assetsync_domain::gallery::{apply_operations, compute_gallery, reconcile};
use assetsync_domain::metadata::{MAX_LABEL_CHARS, MAX_POSITION, evaluate};
use assetsync_domain::{
    AppliedEntry, AssetId, AssetMetadata, ContentId, DesiredLink, Evaluation, GalleryEntry,
    MatchSettings, MediaType, Operation, Role, Sku,
};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::subsequence;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

const ASSETS: [&str; 6] = ["a1", "b2", "c3", "d4", "e5", "f6"];
const ROLES: [&str; 4] = ["image", "small_image", "swatch_image", "thumbnail"];

fn asset_of(index: usize) -> AssetId {
    asset_id(ASSETS[index % ASSETS.len()])
}

fn arb_roles() -> impl Strategy<Value = BTreeSet<Role>> {
    subsequence(ROLES.to_vec(), 0..=ROLES.len())
        .prop_map(|codes| codes.iter().map(|c| role(c)).collect())
}

fn arb_position() -> impl Strategy<Value = u32> {
    prop_oneof![
        Just(0u32),
        1u32..6,
        Just(MAX_POSITION - 1),
        Just(MAX_POSITION)
    ]
}

fn arb_label() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof![
        Just("Front".to_owned()),
        Just("Back".to_owned())
    ])
}

fn arb_media_type() -> impl Strategy<Value = MediaType> {
    prop_oneof![4 => Just(MediaType::Image), 1 => Just(MediaType::Video)]
}

fn arb_content_id() -> impl Strategy<Value = ContentId> {
    (0u8..3).prop_map(|n| ContentId(format!("sha-{n}")))
}

/// Claims on one product: few assets, few roles and modify times, so roles are contested and ties happen.
fn arb_claims() -> impl Strategy<Value = Vec<DesiredLink>> {
    vec(
        (
            0..ASSETS.len(),
            arb_roles(),
            prop::option::of(arb_position()),
            arb_label(),
            arb_media_type(),
            arb_content_id(),
            0i64..3,
        )
            .prop_map(
                |(asset, roles, position, label, media_type, content_id, modified_ms)| {
                    DesiredLink {
                        asset_id: asset_of(asset),
                        sku: sku("MH01"),
                        roles,
                        position,
                        label,
                        labels: Default::default(),
                        hidden_in: Default::default(),
                        media_type,
                        video: None,
                        content_id,
                        modified_ms,
                    }
                },
            ),
        0..7,
    )
}

/// Whatever happens to stand on the commerce side: one entry per asset, any content.
fn arb_applied() -> impl Strategy<Value = Vec<AppliedEntry>> {
    btree_map(
        0..ASSETS.len(),
        (
            arb_roles(),
            arb_position(),
            arb_label(),
            arb_media_type(),
            arb_content_id(),
            prop::option::of((0u32..100).prop_map(|n| format!("remote-{n}"))),
        ),
        0..7,
    )
    .prop_map(|by_asset| {
        by_asset
            .into_iter()
            .map(
                |(asset, (roles, position, label, media_type, content_id, remote_id))| {
                    AppliedEntry {
                        entry: GalleryEntry {
                            asset_id: asset_of(asset),
                            roles,
                            position,
                            label,
                            labels: Default::default(),
                            hidden_in: Default::default(),
                            media_type,
                            video: None,
                            content_id,
                            hidden: false,
                            source: Default::default(),
                        },
                        remote_id,
                        unknown_store_views: Default::default(),
                    }
                },
            )
            .collect()
    })
}

fn takes_away_only(op: &Operation) -> bool {
    match op {
        Operation::Delete(_) => true,
        Operation::Update { from, to } => {
            to.roles.is_subset(&from.entry.roles) && to.roles != from.entry.roles
        }
        Operation::Create(_) | Operation::Replace { .. } => false,
    }
}

/// One version of an asset's metadata, drawn from small pools so that SKUs, roles and times collide.
#[derive(Debug, Clone)]
struct MetadataVersion {
    status: &'static str,
    commerce_flag: &'static str,
    skus: Value,
    roles: Vec<String>,
    positions: Vec<Value>,
    modify_date: Option<&'static str>,
    content: u8,
}

impl MetadataVersion {
    fn metadata(&self, asset: &AssetId) -> AssetMetadata {
        let mut repository = json!({ "dam:sha1": format!("sha-{}", self.content) });
        if let Some(date) = self.modify_date {
            repository["repo:modifyDate"] = json!(date);
        }
        metadata(
            asset,
            json!({
                "dam:status": self.status,
                "commerce:isCommerce": self.commerce_flag,
                "commerce:skus": self.skus,
                "commerce:roles": self.roles,
                "commerce:positions": self.positions,
            }),
            repository,
        )
    }
}

fn arb_metadata_version() -> impl Strategy<Value = MetadataVersion> {
    let sku_item = prop_oneof![
        Just("MH01"),
        Just("MH02"),
        Just("MH03"),
        Just(" MH01 "),
        Just(""),
        Just("BAD\u{0}SKU"),
    ];
    let skus = prop_oneof![
        8 => vec(sku_item.clone(), 0..4).prop_map(|items| json!(items)),
        1 => sku_item.prop_map(|item| json!(item)),
        1 => Just(json!({ "malformed": true })),
    ];
    let role_list = subsequence(vec!["image", "thumbnail", "small_image", "Bad Role"], 0..=3)
        .prop_map(|codes| codes.join(";"));
    let position = prop_oneof![
        Just(json!(-1)),
        Just(json!(0)),
        Just(json!(1)),
        Just(json!(2)),
        Just(json!(7)),
        Just(json!(null)),
        Just(json!(-3)),
    ];
    (
        prop_oneof![5 => Just("approved"), 1 => Just("rejected")],
        prop_oneof![3 => Just("Yes"), 2 => Just("yes"), 1 => Just("No")],
        skus,
        vec(role_list, 0..4),
        vec(position, 0..4),
        prop_oneof![
            3 => Just(Some("2025-01-01T00:00:00Z")),
            3 => Just(Some("2025-01-02T00:00:00Z")),
            2 => Just(None),
            1 => Just(Some("not a date")),
        ],
        0u8..3,
    )
        .prop_map(
            |(status, commerce_flag, skus, roles, positions, modify_date, content)| {
                MetadataVersion {
                    status,
                    commerce_flag,
                    skus,
                    roles,
                    positions,
                    modify_date,
                    content,
                }
            },
        )
}

/// Per asset, the versions it goes through; and two random interleavings of the deliveries that keep each
/// asset's own versions in order (the k-th delivery of an asset reads its k-th version).
type Histories = Vec<Vec<MetadataVersion>>;

fn arb_histories_and_two_orders() -> impl Strategy<Value = (Histories, Vec<usize>, Vec<usize>)> {
    vec(vec(arb_metadata_version(), 1..4), 1..ASSETS.len()).prop_flat_map(|histories| {
        let deliveries: Vec<usize> = histories
            .iter()
            .enumerate()
            .flat_map(|(asset, versions)| std::iter::repeat_n(asset, versions.len()))
            .collect();
        (
            Just(histories),
            Just(deliveries.clone()).prop_shuffle(),
            Just(deliveries).prop_shuffle(),
        )
    })
}

fn run_deliveries(histories: &Histories, order: &[usize]) -> Simulation {
    let mut simulation = Simulation::default();
    let mut next_version = vec![0usize; histories.len()];
    for &asset in order {
        let version = &histories[asset][next_version[asset]];
        next_version[asset] += 1;
        simulation.process_metadata(&version.metadata(&asset_of(asset)));
    }
    simulation
}

/// What must stand in the end: each asset's last readable version decides its links (invalid versions keep
/// the previous ones; an asset never readable has none).
fn expected_galleries(histories: &Histories) -> BTreeMap<Sku, Vec<GalleryEntry>> {
    let settings = MatchSettings::default();
    let mut all_links = Vec::new();
    for (asset, versions) in histories.iter().enumerate() {
        let last_readable = versions.iter().rev().find_map(|version| {
            match evaluate(&version.metadata(&asset_of(asset)), &settings) {
                Evaluation::Eligible { links, .. } => Some(links),
                Evaluation::NotEligible { .. } => Some(Vec::new()),
                Evaluation::Invalid { .. } => None,
            }
        });
        all_links.extend(last_readable.unwrap_or_default());
    }
    galleries_of(all_links)
}

/// Any JSON value, biased towards the strings and numbers the contract cares about.
fn arb_json() -> impl Strategy<Value = Value> {
    let interesting = prop_oneof![
        Just("approved"),
        Just("Yes"),
        Just("yes"),
        Just("delivery"),
        Just("contenthub"),
        Just("MH01"),
        Just(" MH01 "),
        Just("image;thumbnail"),
        Just("Bad Role; image"),
        Just("-1"),
        Just("5"),
        Just("1e3"),
        Just("2025-09-19T16:59:29.185Z"),
        Just("2025-09-19T16:59:29.185+02:00"),
        Just("2025-09-19T16:59:29.Z"),
        Just("9999-99-99T99:99:99Z"),
        Just("video/mp4"),
        Just("default"),
        Just("A\u{0}B"),
        Just(""),
    ]
    .prop_map(|s| Value::String(s.to_owned()));
    let leaf = prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => any::<i64>().prop_map(|n| json!(n)),
        1 => any::<u64>().prop_map(|n| json!(n)),
        1 => (-4i64..10).prop_map(|n| json!(n)),
        1 => (-1e20f64..1e20).prop_map(|f| json!(f)),
        1 => prop_oneof![Just(2.5f64), Just(3.0), Just(-1.0), Just(1e16), Just(-0.0)].prop_map(|f| json!(f)),
        4 => interesting,
        1 => any::<String>().prop_map(Value::String),
        1 => (1usize..400).prop_map(|n| Value::String("é".repeat(n))),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..5).prop_map(Value::Array),
            btree_map("[a-z:]{1,8}", inner, 0..4).prop_map(|entries| Value::Object(
                entries.into_iter().collect::<Map<String, Value>>()
            )),
        ]
    })
}

/// Metadata whose every contract property is absent or arbitrary; status and flag are usually eligible so
/// that the reading of SKUs, roles, positions and labels is exercised.
fn arb_arbitrary_metadata() -> impl Strategy<Value = AssetMetadata> {
    let usually = |typical: &'static str| {
        prop_oneof![
            4 => Just(Some(json!(typical))),
            1 => Just(None),
            2 => arb_json().prop_map(Some),
        ]
    };
    let optional = || prop::option::of(arb_json());
    (
        (
            usually("approved"),
            usually("Yes"),
            optional(),
            usually("MH01"),
            optional(),
            optional(),
            optional(),
            optional(),
            optional(),
        ),
        (
            optional(),
            optional(),
            optional(),
            optional(),
            btree_map("[a-z:]{1,8}", arb_json(), 0..3),
        ),
        0..ASSETS.len(),
    )
        .prop_map(|(asset_props, repository_props, asset)| {
            let (status, flag, target, skus, roles, positions, views, values, title) = asset_props;
            let (sha1, version, modify_date, format, extra) = repository_props;
            let mut asset_map: Map<String, Value> = extra.clone().into_iter().collect();
            for (key, value) in [
                ("dam:status", status),
                ("commerce:isCommerce", flag),
                ("dam:activationTarget", target),
                ("commerce:skus", skus),
                ("commerce:roles", roles),
                ("commerce:positions", positions),
                ("commerce:altTextStoreViews", views),
                ("commerce:altTextValues", values),
                ("dc:title", title),
            ] {
                if let Some(value) = value {
                    asset_map.insert(key.to_owned(), value);
                }
            }
            let mut repository: Map<String, Value> = Map::new();
            for (key, value) in [
                ("dam:sha1", sha1),
                ("repo:version", version),
                ("repo:modifyDate", modify_date),
                ("dc:format", format),
            ] {
                if let Some(value) = value {
                    repository.insert(key.to_owned(), value);
                }
            }
            AssetMetadata {
                asset_id: asset_of(asset),
                repository,
                asset: asset_map,
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Same input twice gives no operations: once reconcile's operations are applied, nothing is left to do,
    /// and the applied gallery is the desired one.
    #[test]
    fn reconciling_after_applying_gives_no_operations(claims in arb_claims(), applied_before in arb_applied()) {
        let desired = compute_gallery(&claims);
        let operations = reconcile(&desired, &applied_before);

        let first_granting = operations.iter().position(|op| !takes_away_only(op)).unwrap_or(operations.len());
        prop_assert!(
            operations[first_granting..].iter().all(|op| !takes_away_only(op)),
            "operations that only take away must come first: {operations:?}"
        );

        let applied_after = apply_operations(&applied_before, &operations);
        prop_assert_eq!(reconcile(&desired, &applied_after), Vec::<Operation>::new());
        let entries_after: Vec<GalleryEntry> = applied_after.iter().map(|a| a.entry.clone()).collect();
        prop_assert_eq!(&entries_after, &desired);

        // Entries that were only updated, or left alone, keep their commerce ids.
        let replaced_or_created: BTreeSet<&AssetId> = operations
            .iter()
            .filter(|op| matches!(op, Operation::Create(_) | Operation::Replace { .. }))
            .map(Operation::asset_id)
            .collect();
        for after in &applied_after {
            let before = applied_before.iter().find(|b| b.entry.asset_id == after.entry.asset_id);
            match before {
                Some(before) if !replaced_or_created.contains(&after.entry.asset_id) => {
                    prop_assert_eq!(&after.remote_id, &before.remote_id);
                }
                _ => prop_assert_eq!(&after.remote_id, &None),
            }
        }
    }

    /// Any interleaving of deliveries, each followed by recomputing, reconciling and applying the touched
    /// SKUs, ends on the same galleries: those computed at once from all final claims.
    #[test]
    fn incremental_processing_in_any_order_converges_on_the_galleries_of_all_claims(
        (histories, order_a, order_b) in arb_histories_and_two_orders()
    ) {
        let expected = expected_galleries(&histories);
        let simulation_a = run_deliveries(&histories, &order_a);
        let simulation_b = run_deliveries(&histories, &order_b);
        prop_assert_eq!(&simulation_a.galleries(), &expected);
        prop_assert_eq!(&simulation_b.galleries(), &expected);
        prop_assert_eq!(&simulation_a.galleries_from_claims(), &expected);

        // Everything applied is already what it should be.
        for (sku, applied_entries) in &simulation_a.applied {
            let claims: Vec<DesiredLink> = simulation_a
                .claims
                .get(sku)
                .map(|by_asset| by_asset.values().cloned().collect())
                .unwrap_or_default();
            prop_assert_eq!(reconcile(&compute_gallery(&claims), applied_entries), Vec::<Operation>::new());
        }
    }

    /// Each role has at most one holder, the newest claimant (ties: greater asset id); every claiming asset
    /// has exactly one entry; positions are within range; the claims' order does not matter.
    #[test]
    fn compute_gallery_keeps_its_rules(claims in arb_claims(), seed in any::<u64>()) {
        let gallery = compute_gallery(&claims);
        let claimants: BTreeSet<&AssetId> = claims.iter().map(|c| &c.asset_id).collect();
        let entries: Vec<&AssetId> = gallery.iter().map(|e| &e.asset_id).collect();
        prop_assert_eq!(entries.len(), claimants.len());
        prop_assert_eq!(entries.iter().copied().collect::<BTreeSet<_>>(), claimants);

        // One link per asset per SKU is what the engine feeds in; judge roles on the first claim of each asset.
        let mut first_claims: BTreeMap<&AssetId, &DesiredLink> = BTreeMap::new();
        for claim in &claims {
            first_claims.entry(&claim.asset_id).or_insert(claim);
        }
        for role_code in ROLES {
            let role = role(role_code);
            let holders: Vec<&AssetId> = gallery.iter().filter(|e| e.roles.contains(&role)).map(|e| &e.asset_id).collect();
            prop_assert!(holders.len() <= 1, "{role} held by {holders:?}");
        }

        for entry in &gallery {
            prop_assert!(entry.position <= MAX_POSITION);
        }
        let sorted = gallery.windows(2).all(|w| (w[0].position, &w[0].asset_id) <= (w[1].position, &w[1].asset_id));
        prop_assert!(sorted, "gallery is ordered by position then asset id: {gallery:?}");

        // Deduplicated input (as the engine gives it) is order-independent.
        let unique: Vec<DesiredLink> = first_claims.values().map(|c| (*c).clone()).collect();
        let unique_gallery = compute_gallery(&unique);
        for role_code in ROLES {
            let role = role(role_code);
            let newest = unique
                .iter()
                .filter(|c| c.roles.contains(&role))
                .max_by(|a, b| (a.modified_ms, &a.asset_id).cmp(&(b.modified_ms, &b.asset_id)))
                .map(|c| &c.asset_id);
            let holder = unique_gallery.iter().find(|e| e.roles.contains(&role)).map(|e| &e.asset_id);
            prop_assert_eq!(holder, newest, "holder of {}", role);
        }
        let mut rotated = unique.clone();
        if !rotated.is_empty() {
            let shift = usize::try_from(seed % rotated.len() as u64).unwrap();
            rotated.rotate_left(shift);
            let last = rotated.len() - 1;
            rotated.swap(0, last);
        }
        prop_assert_eq!(compute_gallery(&rotated), unique_gallery);
    }

    /// `evaluate` never panics, gives the same answer twice, and what it calls eligible is well formed.
    #[test]
    fn evaluate_is_total_deterministic_and_well_formed(meta in arb_arbitrary_metadata()) {
        let settings = MatchSettings::default();
        let first = evaluate(&meta, &settings);
        let second = evaluate(&meta.clone(), &settings);
        prop_assert_eq!(&first, &second);

        let custom = MatchSettings { sku_attribute: "dc:title".to_owned(), ..MatchSettings::default() };
        prop_assert_eq!(evaluate(&meta, &custom), evaluate(&meta, &custom));

        match first {
            Evaluation::Eligible { links, .. } => {
                let skus: BTreeSet<&Sku> = links.iter().map(|l| &l.sku).collect();
                prop_assert_eq!(skus.len(), links.len(), "one link per SKU");
                for link in &links {
                    prop_assert_eq!(&link.asset_id, &meta.asset_id);
                    prop_assert_eq!(Sku::parse(link.sku.as_str()), Ok(link.sku.clone()));
                    for role in &link.roles {
                        prop_assert_eq!(Role::parse(role.as_str()), Ok(role.clone()));
                    }
                    if let Some(position) = link.position {
                        prop_assert!(position <= MAX_POSITION);
                    }
                    if let Some(label) = &link.label {
                        prop_assert!(!label.trim().is_empty());
                        prop_assert!(label.chars().count() <= MAX_LABEL_CHARS);
                    }
                }
                let mut simulation = Simulation::default();
                simulation.process(&meta.asset_id, &Evaluation::Eligible { links: links.clone(), warnings: Vec::new() });
                prop_assert_eq!(simulation.galleries().len(), links.len());
            }
            Evaluation::NotEligible { reason } | Evaluation::Invalid { reason } => {
                prop_assert!(!reason.is_empty());
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The retry policy: delays stay within their bounds and honour a Retry-After (clamped); unauthorized work
    /// is never given up, permanent failures always are, transient ones exactly when attempts run out.
    #[test]
    fn the_retry_policy_keeps_its_bounds(
        attempt in 1u32..200,
        max_attempts in 1u32..100,
        retry_after in proptest::option::of(0u64..10_000_000),
        jitter in 0.0f64..1.0,
    ) {
        use assetsync_domain::retry::{decide, retry_delay_ms, FailureClass, RetryDecision, MAX_DELAY_MS, MAX_RETRY_AFTER_MS};
        let delay = retry_delay_ms(attempt, retry_after, jitter);
        prop_assert!(delay >= 400);
        prop_assert!(delay <= MAX_DELAY_MS.max(MAX_RETRY_AFTER_MS));
        if let Some(after) = retry_after {
            prop_assert!(delay >= after.min(MAX_RETRY_AFTER_MS));
        }
        prop_assert_eq!(decide(FailureClass::Unauthorized, attempt, max_attempts, retry_after, jitter), RetryDecision::Pause);
        prop_assert_eq!(decide(FailureClass::Permanent, attempt, max_attempts, retry_after, jitter), RetryDecision::GiveUp);
        let transient = decide(FailureClass::Transient, attempt, max_attempts, retry_after, jitter);
        if attempt >= max_attempts {
            prop_assert_eq!(transient, RetryDecision::GiveUp);
        } else {
            prop_assert_eq!(transient, RetryDecision::RetryIn(delay));
        }
    }
}
