//! What an applied entry carries beyond the gallery's fields: the store views the platform lacks (shown on the
//! asset's status, seen by every process) and a video's facts.

use super::*;
use domain::{StoreView, Video};

pub async fn unknown_store_views_and_videos_are_kept_with_the_applied_entry<S: Store>(store: &S) {
    let (a, p, q) = (asset(1), sku("SV-1"), sku("SV-2"));
    store
        .upsert_products(&[p.clone(), q.clone()], T0)
        .await
        .unwrap();
    let mut on_p = link(&a, &p, &["image"], Some(1));
    on_p.media_type = MediaType::Video;
    on_p.video = Some(Video {
        title: "Trailer".into(),
        description: "In motion".into(),
        url: String::new(),
    });
    let mut on_q = on_p.clone();
    on_q.sku = q.clone();
    let outcome = AssetOutcome::Links {
        links: vec![on_p, on_q],
        eligible: true,
        warnings: vec!["commerce:altTextStoreViews[2]: store view code is empty".into()],
        note: None,
    };
    sync_asset(store, "ev-1", &a, outcome, T0, T0 + 10).await;

    let work = claim_skus(store, T0 + 20).await;
    assert_eq!(skus_of(&work), vec![p.clone(), q.clone()]);
    let mut written = Vec::new();
    for item in &work {
        let state = store.sku_state(&item.sku).await.unwrap();
        let mut entries = gallery_of(&state.claims);
        for entry in &mut entries {
            if let Some(video) = &mut entry.entry.video {
                video.url = format!("https://cdn.example.com/adobe/assets/{a}/play");
            }
            if item.sku == p {
                entry.unknown_store_views = [StoreView::parse("it_IT").unwrap()].into();
            }
        }
        store
            .complete_sku(item, SkuOutcome::Applied(entries.clone()), T0 + 30)
            .await
            .unwrap();
        written.push((item.sku.clone(), entries));
    }
    for (sku, entries) in &written {
        assert_eq!(&store.sku_state(sku).await.unwrap().applied, entries);
        let video = entries[0].entry.video.as_ref().unwrap();
        assert_eq!(video.title, "Trailer");
        assert!(video.url.ends_with("/play"));
    }
    let st = status(store, &a).await;
    assert_eq!(st.linked_skus, vec![p.clone(), q.clone()]);
    assert_eq!(
        st.warnings,
        vec![
            "commerce:altTextStoreViews[2]: store view code is empty".to_owned(),
            "SV-1: the store has no store view it_it; the values for it were not sent".to_owned(),
        ],
        "the evaluation's warnings, then each product's unknown store views"
    );

    // Written again with every store view known: the warning goes.
    store.requeue_galleries(T0 + 40).await.unwrap();
    for item in claim_skus(store, T0 + 50).await {
        apply_sku(store, &item, T0 + 60).await;
    }
    assert_eq!(
        status(store, &a).await.warnings,
        vec!["commerce:altTextStoreViews[2]: store view code is empty".to_owned()]
    );
}
