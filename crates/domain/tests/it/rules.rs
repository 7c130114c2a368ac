//! `matching`: filename rules and the custom matcher's replies (reference §6.2, §6.3), and the configuration
//! fields behind them (URL policy, secrets, workspace.json).

use crate::support::*;
use assetsync_domain::config::{IntegrationConfig, MatchingRule, UrlPolicy};
use assetsync_domain::matching::{
    CustomReply, FilenameRules, evaluate_filename, match_filename, read_asset_to_product,
    read_product_to_asset,
};
use assetsync_domain::{Evaluation, MediaType};
use serde_json::{Value, json};

fn rules(patterns: &[&str]) -> FilenameRules {
    FilenameRules::parse(&patterns.iter().map(|p| (*p).to_owned()).collect::<Vec<_>>()).unwrap()
}

const SKU_POS_ROLE: &str = r"^(?P<sku>[A-Z0-9-]+)_(?P<position>\d+)_(?P<role>[a-z_;]+)\.jpg$";
const SKU_POS: &str = r"^(?P<sku>[A-Z0-9-]+)_(?P<position>\d+)\.jpg$";
const SKU_ONLY: &str = r"^(?P<sku>[A-Z0-9-]+)\.jpg$";

#[test]
fn the_first_matching_rule_wins_and_reads_position_and_roles() {
    let rules = rules(&[SKU_POS_ROLE, SKU_POS, SKU_ONLY]);
    let defaults = roles(&["image", "small_image", "thumbnail"]);
    let found = match_filename("MH01_2_swatch_image;thumbnail.jpg", &rules, &defaults)
        .unwrap()
        .unwrap();
    assert_eq!(
        (found.rule, found.sku, found.position, found.roles),
        (
            0,
            sku("MH01"),
            Some(2),
            roles(&["swatch_image", "thumbnail"])
        )
    );
    let found = match_filename("MH01_1.jpg", &rules, &defaults)
        .unwrap()
        .unwrap();
    assert_eq!(
        (found.rule, found.position, found.roles),
        (1, Some(1), defaults.clone())
    );
    let found = match_filename("MH01_3.jpg", &rules, &defaults)
        .unwrap()
        .unwrap();
    assert!(
        found.roles.is_empty(),
        "default roles are for position 1 only"
    );
    let found = match_filename("MH01.jpg", &rules, &defaults)
        .unwrap()
        .unwrap();
    assert_eq!((found.rule, found.position), (2, None));
    assert_eq!(match_filename("banner.png", &rules, &defaults), Ok(None));
}

#[test]
fn invalid_patterns_are_refused_with_the_regex_error() {
    let unclosed = FilenameRules::parse(&[SKU_ONLY.to_owned(), r"(?P<sku>[a-z".to_owned()]);
    let message = unclosed.err().unwrap();
    assert!(
        message.starts_with("rule 1 is not a valid regular expression"),
        "{message}"
    );
    assert!(message.contains("unclosed"), "{message}");
    let no_sku = FilenameRules::parse(&[r"^(?P<code>\w+)$".to_owned()])
        .err()
        .unwrap();
    assert!(no_sku.contains("no named group `sku`"), "{no_sku}");
}

#[test]
fn filename_evaluation_checks_eligibility_first_and_uses_the_repository_name() {
    let rules = rules(&[SKU_POS]);
    let asset = asset_id("f1");
    let mut meta = eligible_metadata(&asset, json!({ "commerce:skus": ["IGNORED"] }));
    meta.repository
        .insert("repo:name".into(), json!("SHOE-9_1.jpg"));
    meta.repository
        .insert("dc:format".into(), json!("video/mp4"));
    let (links, _) = expect_eligible(evaluate_filename(&meta, &rules, &roles(&["image"])));
    assert_eq!(links.len(), 1);
    assert_eq!(
        (&links[0].sku, links[0].position),
        (&sku("SHOE-9"), Some(1))
    );
    assert_eq!(links[0].media_type, MediaType::Video);
    meta.asset.insert("dam:status".into(), json!("draft"));
    assert!(matches!(
        evaluate_filename(&meta, &rules, &roles(&["image"])),
        Evaluation::NotEligible { .. }
    ));
}

#[test]
fn asset_to_product_reads_the_documented_reply_and_its_history() {
    let asset = asset_id("c1");
    let meta = eligible_metadata(&asset, json!({ "dc:title": "Front" }));
    let reply = json!({
        "asset_id": asset,
        "product_matches": [
            { "product_sku": "SKU-1", "asset_roles": ["thumbnail", "image"], "asset_position": 1 },
            { "product_sku": "SKU-2", "asset_roles": ["thumbnail"] },
            { "product_sku": "SKU-3", "asset_roles": [], "asset_position": [4] }
        ],
        "skip": false
    });
    let CustomReply::Matches { matches, .. } =
        read_asset_to_product(&meta, reply.to_string().as_bytes()).unwrap()
    else {
        panic!("expected matches")
    };
    let read: Vec<_> = matches
        .iter()
        .map(|l| (l.sku.as_str(), l.position, l.label.as_deref()))
        .collect();
    assert_eq!(
        read,
        [
            ("SKU-1", Some(1), Some("Front")),
            ("SKU-2", None, Some("Front")),
            ("SKU-3", Some(4), Some("Front"))
        ]
    );
    assert_eq!(matches[0].roles, roles(&["image", "thumbnail"]));
    let skip = json!({ "asset_id": asset, "product_matches": [], "skip": true });
    assert_eq!(
        read_asset_to_product(&meta, skip.to_string().as_bytes()),
        Ok(CustomReply::Skip)
    );
}

#[test]
fn a_reply_that_does_not_parse_or_answers_for_another_asset_is_an_error() {
    let meta = eligible_metadata(&asset_id("c2"), json!({}));
    for bad in [
        json!("not an object").to_string(),
        "{\"asset_id\": ".to_owned(),
        json!({ "asset_id": asset_id("other").as_str(), "product_matches": [] }).to_string(),
        json!({ "product_matches": [{ "asset_roles": ["image"] }] }).to_string(),
        json!({ "product_matches": [{ "product_sku": "S", "asset_position": -1 }] }).to_string(),
    ] {
        assert!(
            read_asset_to_product(&meta, bad.as_bytes()).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn product_to_asset_reads_matches_with_their_format() {
    let (one, two) = (asset_id("p1"), asset_id("p2"));
    let reply = json!({
        "product_sku": "SKU-1",
        "asset_matches": [
            { "asset_id": one, "asset_roles": ["thumbnail", "image"], "asset_position": 1, "asset_format": "image" },
            { "asset_id": two, "asset_roles": ["thumbnail"], "asset_position": 2, "asset_format": "video" }
        ],
        "skip": false
    });
    let CustomReply::Matches { matches, .. } =
        read_product_to_asset(&sku("SKU-1"), reply.to_string().as_bytes()).unwrap()
    else {
        panic!("expected matches")
    };
    assert_eq!(matches.len(), 2);
    assert_eq!(matches[1].media_type, Some(MediaType::Video));
    assert_eq!(matches[0].position, Some(1));
    let other = json!({ "product_sku": "SKU-2", "asset_matches": [] });
    assert!(read_product_to_asset(&sku("SKU-1"), other.to_string().as_bytes()).is_err());

    // `asset_format` decides: an image by its `dc:format` becomes a video with its title and description.
    let meta = eligible_metadata(
        &two,
        json!({ "dc:title": "Trailer", "dc:description": "In motion", "dc:format": "image/png" }),
    );
    let mut warnings = Vec::new();
    let facts = assetsync_domain::metadata::LinkFacts::read(&meta, &mut warnings).unwrap();
    let video = matches[1].link(&sku("SKU-1"), &facts);
    assert_eq!(video.media_type, MediaType::Video);
    let facts_of_video = video.video.expect("a video's facts");
    assert_eq!(
        (
            facts_of_video.title.as_str(),
            facts_of_video.description.as_str()
        ),
        ("Trailer", "In motion")
    );
    let image = matches[0].link(&sku("SKU-1"), &facts);
    assert_eq!((image.media_type, image.video), (MediaType::Image, None));
}

fn apply(change: Value, urls: UrlPolicy) -> Result<IntegrationConfig, Vec<String>> {
    let base = IntegrationConfig::defaults("1", "2");
    base.apply_change(&change, &base, urls)
        .map(|(config, _)| config)
        .map_err(|errors| {
            errors
                .into_iter()
                .map(|(f, m)| format!("{f}: {m}"))
                .collect()
        })
}

#[test]
fn matcher_urls_are_https_unless_insecure_is_allowed_and_never_carry_user_info() {
    let http = json!({ "matching_rule": "custom_match", "asset_to_product_url": "http://127.0.0.1:9/a2p" });
    assert!(apply(http.clone(), UrlPolicy::HttpsOnly).is_err());
    assert_eq!(
        apply(http, UrlPolicy::AllowInsecure).unwrap().matching_rule,
        MatchingRule::CustomMatch
    );
    let user = json!({ "asset_to_product_url": "https://u:p@matcher.example.com/a2p" });
    let errors = apply(user, UrlPolicy::AllowInsecure).unwrap_err();
    assert!(errors[0].contains("user info"), "{errors:?}");
}

#[test]
fn the_client_secret_is_write_only_and_hidden_from_debug() {
    let config = apply(
        json!({ "matcher_client_id": "id", "matcher_client_secret": "s3cr3t-value" }),
        UrlPolicy::HttpsOnly,
    )
    .unwrap();
    let fields = config.as_fields();
    assert_eq!(fields["matcher_client_secret_set"], json!(true));
    assert!(!json!(fields).to_string().contains("s3cr3t-value"));
    assert!(!format!("{config:?}").contains("s3cr3t-value"));
}

#[test]
fn workspace_json_becomes_a_credentials_change() {
    let workspace = json!({ "project": {
        "org": { "ims_org_id": "ORG@AdobeOrg" },
        "workspace": { "details": { "credentials": [
            { "jwt": {} },
            { "oauth_server_to_server": { "client_id": "cid", "client_secrets": ["sec"], "scopes": ["openid"] } }
        ] } }
    } });
    assert_eq!(
        IntegrationConfig::workspace_change(&workspace).unwrap(),
        json!({
            "matcher_ims_org_id": "ORG@AdobeOrg",
            "matcher_client_id": "cid",
            "matcher_client_secret": "sec",
            "matcher_scopes": ["openid"],
        })
    );
    let errors = IntegrationConfig::workspace_change(&json!({ "project": {} })).unwrap_err();
    assert!(errors.contains_key("project.org.ims_org_id"));
    assert!(errors.contains_key("project.workspace.details.credentials"));
}
