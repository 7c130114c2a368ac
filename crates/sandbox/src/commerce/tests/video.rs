//! `external-video` entries as Magento's REST API takes them: the video content is required on every write
//! (with `media_type` `external-video` and a `video_url`), the poster image is validated as any image content,
//! and reads return the video content at every scope.

use super::*;

fn video_content() -> Value {
    json!({
        "media_type": "external-video",
        "video_provider": "",
        "video_url": "https://cdn.example.com/adobe/assets/urn:aaid:aem:1/play",
        "video_title": "Trailer",
        "video_description": "In motion",
        "video_metadata": "",
    })
}

fn video_post(content: Option<Value>) -> Value {
    let mut body = post_body(&BASE64.encode(PNG), "image/png", "poster.png");
    body["entry"]["media_type"] = json!("external-video");
    if let Some(content) = content {
        body["entry"]["extension_attributes"] = json!({ "video_content": content });
    }
    body
}

#[test]
fn an_external_video_needs_its_video_content_and_a_poster_image() {
    let upload = validate_new_entry(&video_post(Some(video_content()))).unwrap();
    let video = upload.fields.video.expect("a video entry");
    assert_eq!(
        video.url,
        "https://cdn.example.com/adobe/assets/urn:aaid:aem:1/play"
    );
    assert_eq!(
        (video.title.as_str(), video.description.as_str()),
        ("Trailer", "In motion")
    );
    assert_eq!(upload.file_name, "poster.png");

    assert_eq!(message(&video_post(None)), VIDEO_CONTENT_REQUIRED);
    let mut no_content = video_post(None);
    no_content["entry"]["extension_attributes"] = json!({});
    assert_eq!(message(&no_content), VIDEO_CONTENT_REQUIRED);
    let mut wrong_type = video_content();
    wrong_type["media_type"] = json!("image");
    assert_eq!(message(&video_post(Some(wrong_type))), BAD_VIDEO_MEDIA_TYPE);
    for url in [json!(null), json!(""), json!("  ")] {
        let mut no_url = video_content();
        no_url["video_url"] = url.clone();
        assert_eq!(
            message(&video_post(Some(no_url))),
            VIDEO_URL_REQUIRED,
            "{url}"
        );
    }
    let mut bad_title = video_content();
    bad_title["video_title"] = json!(7);
    assert_eq!(message(&video_post(Some(bad_title))), INVALID_TYPE);

    // The poster is image content like any other: required and checked.
    let mut no_poster = video_post(Some(video_content()));
    no_poster["entry"]
        .as_object_mut()
        .unwrap()
        .remove("content");
    assert_eq!(message(&no_poster), CONTENT_REQUIRED);
    let mut not_an_image = video_post(Some(video_content()));
    not_an_image["entry"]["content"]["base64_encoded_data"] = json!(BASE64.encode(b"mp4 bytes"));
    assert_eq!(message(&not_an_image), BAD_CONTENT);

    // A PUT of an external video needs the content too.
    let mut put = json!({ "entry": { "id": 1, "media_type": "external-video" } });
    assert_eq!(
        parse_update(&put).unwrap_err().message,
        VIDEO_CONTENT_REQUIRED
    );
    put["entry"]["extension_attributes"] = json!({ "video_content": video_content() });
    assert!(parse_update(&put).unwrap().1.video.is_some());
}

#[tokio::test]
async fn a_video_entry_is_listed_with_its_content_at_every_scope() {
    let (emulator, client) = started().await;
    emulator.create_product("V1");
    emulator.set_store_views(&["fr_fr"]);
    let reply = client
        .send(
            "POST",
            "/rest/all/V1/products/V1/media",
            &[],
            Some(video_post(Some(video_content()))),
        )
        .await;
    assert_eq!(reply.status(), 200);
    let id: u64 = reply
        .json::<Value>()
        .await
        .unwrap()
        .as_str()
        .unwrap()
        .parse()
        .unwrap();

    // A store-scoped write without the video content is refused; with it, the view gets its label.
    let scoped = |content: Option<Value>| {
        let mut entry = json!({ "id": id, "media_type": "external-video", "label": "Bande-annonce",
                                "position": 1, "disabled": false, "types": [] });
        if let Some(content) = content {
            entry["extension_attributes"] = json!({ "video_content": content });
        }
        json!({ "entry": entry })
    };
    let path = format!("/rest/fr_fr/V1/products/V1/media/{id}");
    let reply = client.send("PUT", &path, &[], Some(scoped(None))).await;
    assert_eq!(reply.status(), 400);
    let reply = client
        .send("PUT", &path, &[], Some(scoped(Some(video_content()))))
        .await;
    assert_eq!(reply.status(), 200);

    for (store, label) in [("all", "L"), ("fr_fr", "Bande-annonce")] {
        let entries = emulator.entries_in("V1", store).unwrap();
        assert_eq!(entries.len(), 1, "{store}");
        assert_eq!(entries[0]["media_type"], "external-video", "{store}");
        assert_eq!(entries[0]["label"], label, "{store}");
        assert_eq!(
            entries[0]["extension_attributes"]["video_content"],
            video_content(),
            "{store}"
        );
        assert!(entries[0]["file"].as_str().unwrap().ends_with(".png"));
    }
    let reply = client
        .send("GET", "/rest/all/V1/products/V1/media", &[], None)
        .await;
    let listed: Value = reply.json().await.unwrap();
    assert_eq!(
        listed[0]["extension_attributes"]["video_content"]["video_url"],
        "https://cdn.example.com/adobe/assets/urn:aaid:aem:1/play"
    );
}
