//! The integration configuration and its history.

use super::*;

pub async fn the_configuration_and_its_history_are_kept<S: Store>(store: &S) {
    use domain::config::IntegrationConfig;
    assert_eq!(store.integration_config().await.unwrap(), None);
    let defaults = IntegrationConfig::defaults("1", "2");
    let (changed, changes) = defaults
        .apply_change(
            &serde_json::json!({ "sync_enabled": false }),
            &defaults,
            domain::config::UrlPolicy::HttpsOnly,
        )
        .unwrap();
    store
        .save_integration_config(&changed, &changes, T0)
        .await
        .unwrap();
    store
        .save_integration_config(&changed, &[], T0 + 1)
        .await
        .unwrap();
    assert_eq!(store.integration_config().await.unwrap(), Some(changed));
    let history = store.config_history(10).await.unwrap();
    assert_eq!(
        history.len(),
        1,
        "a save that changes nothing adds no history"
    );
    assert_eq!(history[0].at_ms, T0);
    assert_eq!(history[0].changes, changes);
}
