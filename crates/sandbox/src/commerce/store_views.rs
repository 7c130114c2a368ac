//! Store views as Magento keeps them: the list (`GET /rest/V1/store/storeViews`), the scope of a request (the
//! `/rest/{store}/` prefix: `all` writes the defaults, a store view's code that view's values) and an entry's
//! values per store view (`catalog_product_entity_media_gallery_value`, one row per entry and store).
//!
//! As in Magento: a write at a store view's scope creates that view's row with the label, position and
//! disabled it was given; reading at that scope falls back to the default value field by field only where the
//! row's field is NULL, so a view that once got a position keeps it when the default changes (magento/magento2
//! #14208); the REST API has no "use default value" operation. Roles (`types`) are product attributes that
//! Adobe's integration makes global (v1.4.2): here a role written at any scope is the product's everywhere.

use super::*;

/// Where a request reads or writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Scope {
    /// `/rest/all/`: the default values (store 0).
    All,
    /// `/rest/{code}/`: that store view's values (code lower-cased).
    View(String),
}

/// An entry's row for one store view; `None` is NULL (the default value shows through).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct ViewValues {
    pub(super) label: Option<String>,
    pub(super) position: Option<i64>,
    pub(super) disabled: Option<bool>,
}

impl ViewValues {
    /// The row a write at this view's scope leaves: every field as written.
    pub(super) fn written(fields: &EntryFields) -> Self {
        Self {
            label: fields.label.clone(),
            position: Some(fields.position),
            disabled: Some(fields.disabled),
        }
    }
}

/// The store views of the store (codes lower-cased, `default` first; ids from 1, the admin store is 0).
#[derive(Debug)]
pub(super) struct StoreViews {
    codes: Vec<String>,
}

impl Default for StoreViews {
    fn default() -> Self {
        Self {
            codes: vec!["default".to_owned()],
        }
    }
}

impl StoreViews {
    /// Replaces the list; `default` is always kept, first.
    pub(super) fn set(&mut self, codes: &[String]) {
        let mut list = vec!["default".to_owned()];
        for code in codes {
            let code = code.trim().to_lowercase();
            if !code.is_empty() && code != "admin" && !list.contains(&code) {
                list.push(code);
            }
        }
        self.codes = list;
    }

    /// The scope named by a URL's `{store}` segment.
    pub(super) fn scope(&self, raw: &str) -> Result<Scope, ApiError> {
        let code = raw.to_lowercase();
        if code == "all" {
            return Ok(Scope::All);
        }
        if self.codes.contains(&code) {
            Ok(Scope::View(code))
        } else {
            Err(ApiError::not_found(NO_STORE))
        }
    }

    /// `GET /V1/store/storeViews`: the admin store, then every store view.
    pub(super) fn to_json(&self) -> Value {
        let admin = json!({
            "id": 0, "code": "admin", "name": "Admin", "website_id": 0, "store_group_id": 0, "is_active": 1,
        });
        let views = self.codes.iter().enumerate().map(|(index, code)| {
            json!({
                "id": index + 1,
                "code": code,
                "name": if code == "default" { "Default Store View".to_owned() } else { code.clone() },
                "website_id": 1,
                "store_group_id": 1,
                "is_active": 1,
            })
        });
        Value::Array(std::iter::once(admin).chain(views).collect())
    }
}

/// `GET /rest/V1/store/storeViews` (and under any store prefix).
pub(super) async fn list_store_views(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.lock().gallery.store_views.to_json()).into_response()
}

#[derive(Deserialize)]
pub(super) struct StoreViewList {
    pub(super) codes: Vec<String>,
}

/// `POST /control/store-views {"codes": [...]}`: the store's views (`default` always among them).
pub(super) async fn control_store_views(
    State(shared): State<Arc<Shared>>,
    Json(body): Json<StoreViewList>,
) -> Response {
    let mut inner = shared.lock();
    inner.gallery.store_views.set(&body.codes);
    Json(inner.gallery.store_views.to_json()).into_response()
}
