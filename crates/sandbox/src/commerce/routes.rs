//! The axum router: the REST media API, the product list and the `/control` endpoints.

use super::*;

pub(super) fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route("/rest/{store}/V1/products", get(list_products))
        .route("/rest/V1/store/storeViews", get(list_store_views))
        .route("/rest/{store}/V1/store/storeViews", get(list_store_views))
        .route(
            "/rest/{store}/V1/products/{sku}/media",
            get(list_media).post(post_media),
        )
        .route(
            "/rest/{store}/V1/products/{sku}/media/{entry_id}",
            get(get_media).put(put_media).delete(delete_media),
        )
        .route_layer(middleware::from_fn_with_state(shared.clone(), gate));
    let control = Router::new()
        .route("/control/products", post(control_create_product))
        .route("/control/products/{sku}", get(control_product))
        .route("/control/products/{sku}/entries", post(control_add_entry))
        .route(
            "/control/products/{sku}/entries/{entry_id}",
            delete(control_delete_entry),
        )
        .route("/control/credentials", post(control_credentials))
        .route("/control/faults", post(control_fault))
        .route("/control/conditions", post(control_conditions))
        .route("/control/stats", get(control_stats))
        .route("/control/store-views", post(control_store_views));
    api.merge(control)
        .fallback(no_route)
        .method_not_allowed_fallback(no_route)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn_with_state(shared.clone(), log_request))
        .with_state(shared)
}

/// Records every request but control ones in the request log.
pub(super) async fn log_request(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if !path.starts_with("/control/") {
        let mut inner = shared.lock();
        if inner.requests.len() >= REQUEST_LOG {
            inner.requests.pop_front();
        }
        inner
            .requests
            .push_back((request.method().to_string(), path.to_owned()));
    }
    next.run(request).await
}

pub(super) async fn gate(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let _write = WriteInFlight::begin(&shared, request.method(), request.uri());
    let (latency_ms, error_rate) = {
        let inner = shared.lock();
        (inner.latency_ms, inner.error_rate)
    };
    if latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(latency_ms)).await;
    }
    if error_rate > 0.0 && fastrand::f64() < error_rate {
        return fault_response(500, None);
    }
    match shared.admit(request.method(), request.uri(), request.headers()) {
        None => next.run(request).await,
        Some(refusal) => refusal,
    }
}

#[derive(Deserialize)]
pub(super) struct Conditions {
    #[serde(default)]
    pub(super) latency_ms: u64,
    #[serde(default)]
    pub(super) error_rate: f64,
}

pub(super) async fn control_conditions(
    State(shared): State<Arc<Shared>>,
    Json(body): Json<Conditions>,
) -> Response {
    {
        let mut inner = shared.lock();
        inner.latency_ms = body.latency_ms;
        inner.error_rate = body.error_rate.clamp(0.0, 1.0);
    }
    Json(json!({ "latency_ms": body.latency_ms, "error_rate": body.error_rate })).into_response()
}

pub(super) async fn no_route() -> Response {
    ApiError::not_found(NO_ROUTE).into_response()
}

pub(super) fn answer(result: Result<Value, ApiError>) -> Response {
    match result {
        Ok(body) => Json(body).into_response(),
        Err(error) => error.into_response(),
    }
}

pub(super) async fn list_media(
    State(shared): State<Arc<Shared>>,
    Path((store, sku)): Path<(String, String)>,
) -> Response {
    let inner = shared.lock();
    answer(inner.gallery.store_views.scope(&store).and_then(|scope| {
        inner
            .gallery
            .entries(&sku, &scope)
            .map(Value::Array)
            .ok_or_else(|| Missing::Product.into())
    }))
}

pub(super) async fn get_media(
    State(shared): State<Arc<Shared>>,
    Path((store, sku, entry_id)): Path<(String, String, String)>,
) -> Response {
    let inner = shared.lock();
    let result = inner.gallery.store_views.scope(&store).and_then(|scope| {
        let id = parse_entry_id(&entry_id)?;
        inner
            .gallery
            .entry(&sku, id, &scope)
            .map_err(ApiError::from)
    });
    answer(result)
}

pub(super) async fn post_media(
    State(shared): State<Arc<Shared>>,
    Path((store, sku)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let upload = match parse_body(&headers, &body).and_then(|body| validate_new_entry(&body)) {
        Ok(upload) => upload,
        Err(error) => return error.into_response(),
    };
    let (result, delay) = {
        let mut inner = shared.lock();
        let scope = match inner.gallery.store_views.scope(&store) {
            Ok(scope) => scope,
            Err(error) => return error.into_response(),
        };
        let result = inner
            .gallery
            .add(&sku, upload.fields, &upload.file_name, &scope);
        let delay = match result {
            Ok(_) => inner.take_fault(|f| matches!(f, Fault::DelayAfterCommit { .. })),
            Err(_) => None,
        };
        (result, delay)
    };
    if let Some(Fault::DelayAfterCommit { millis, .. }) = delay {
        tokio::time::sleep(Duration::from_millis(millis)).await;
    }
    answer(
        result
            .map(|id| Value::String(id.to_string()))
            .map_err(ApiError::from),
    )
}

pub(super) async fn put_media(
    State(shared): State<Arc<Shared>>,
    Path((store, sku, _url_entry_id)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = parse_body(&headers, &body)
        .and_then(|body| parse_update(&body))
        .and_then(|(id, fields)| {
            let mut inner = shared.lock();
            let scope = inner.gallery.store_views.scope(&store)?;
            inner
                .gallery
                .update(&sku, id, fields, &scope)
                .map_err(ApiError::from)
        });
    answer(result.map(|()| Value::Bool(true)))
}

pub(super) async fn delete_media(
    State(shared): State<Arc<Shared>>,
    Path((_store, sku, entry_id)): Path<(String, String, String)>,
) -> Response {
    let result = parse_entry_id(&entry_id).and_then(|id| {
        shared
            .lock()
            .gallery
            .remove(&sku, id)
            .map_err(ApiError::from)
    });
    answer(result.map(|()| Value::Bool(true)))
}

/// `GET /V1/products?searchCriteria[pageSize]=N&searchCriteria[currentPage]=P`.
pub(super) async fn list_products(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
) -> Response {
    let criteria = match search_criteria(query.as_deref().unwrap_or("")) {
        Ok(criteria) => criteria,
        Err(error) => return error.into_response(),
    };
    let (page_size, current_page) = criteria;
    let (items, total) = shared.lock().gallery.products_page(page_size, current_page);
    Json(json!({
        "items": items,
        "search_criteria": { "filter_groups": [], "page_size": page_size, "current_page": current_page },
        "total_count": total,
    }))
    .into_response()
}

/// `(pageSize, currentPage)` from the raw query: `searchCriteria` is required (as in Magento), pageSize
/// defaults to 20 and currentPage to 1; filters and sort orders are refused rather than ignored.
pub(super) fn search_criteria(query: &str) -> Result<(u64, u64), ApiError> {
    let pairs = query_pairs(query)
        .ok_or_else(|| ApiError::bad_request("The query string is not validly encoded."))?;
    if !pairs
        .iter()
        .any(|(name, _)| name == "searchCriteria" || name.starts_with("searchCriteria["))
    {
        return Err(ApiError::field_required("searchCriteria"));
    }
    let mut page_size = 20;
    let mut current_page = 1;
    for (name, value) in &pairs {
        let number = || {
            value
                .parse::<u64>()
                .map_err(|_| ApiError::invalid_type(&Value::String(value.clone()), "int"))
        };
        match name.as_str() {
            "searchCriteria[pageSize]" => page_size = number()?,
            "searchCriteria[currentPage]" => current_page = number()?.max(1),
            // Products are listed by id, ascending: the one sort order the emulator supports.
            "searchCriteria[sortOrders][0][field]" if value == "entity_id" => {}
            "searchCriteria[sortOrders][0][direction]" if value.eq_ignore_ascii_case("ASC") => {}
            other
                if other.starts_with("searchCriteria[filter")
                    || other.starts_with("searchCriteria[sort") =>
            {
                return Err(ApiError::bad_request(
                    "The emulator supports only searchCriteria[pageSize], [currentPage] and sorting by entity_id ASC.",
                ));
            }
            _ => {}
        }
    }
    Ok((page_size, current_page))
}

#[derive(Deserialize)]
pub(super) struct NewProduct {
    pub(super) sku: String,
}

#[derive(Deserialize)]
pub(super) struct HandmadeEntry {
    pub(super) label: Option<String>,
    #[serde(default)]
    pub(super) position: i64,
    #[serde(default)]
    pub(super) types: Vec<String>,
    #[serde(default)]
    pub(super) disabled: bool,
}

#[derive(Deserialize)]
pub(super) struct Credentials {
    pub(super) valid: bool,
}

#[derive(Deserialize)]
pub(super) struct FaultRequest {
    pub(super) status: Option<u16>,
    pub(super) retry_after_secs: Option<u64>,
    pub(super) delay_after_commit_ms: Option<u64>,
    #[serde(default = "one")]
    pub(super) count: u32,
}

pub(super) fn one() -> u32 {
    1
}

pub(super) fn control_missing(missing: Missing, sku: &str, id: Option<u64>) -> Response {
    let message = match (missing, id) {
        (Missing::Image, Some(id)) => format!("no entry {id}"),
        _ => format!("no product {sku}"),
    };
    (
        StatusCode::NOT_FOUND,
        Json(json!({ "message": message, "parameters": [] })),
    )
        .into_response()
}

pub(super) async fn control_create_product(
    State(shared): State<Arc<Shared>>,
    Json(body): Json<NewProduct>,
) -> Response {
    let created = shared.lock().gallery.create_product(&body.sku);
    Json(json!({ "sku": body.sku, "created": created })).into_response()
}

pub(super) async fn control_product(
    State(shared): State<Arc<Shared>>,
    Path(sku): Path<String>,
) -> Response {
    let entries = shared.lock().gallery.entries(&sku, &Scope::All);
    match entries {
        Some(entries) => Json(json!({ "sku": sku, "entries": entries })).into_response(),
        None => control_missing(Missing::Product, &sku, None),
    }
}

pub(super) async fn control_add_entry(
    State(shared): State<Arc<Shared>>,
    Path(sku): Path<String>,
    Json(body): Json<HandmadeEntry>,
) -> Response {
    let types: Vec<&str> = body.types.iter().map(String::as_str).collect();
    let fields = EntryFields {
        label: body.label,
        position: body.position,
        disabled: body.disabled,
        types: roles_from(&types),
        video: None,
    };
    let result = shared.lock().gallery.add_handmade(&sku, fields);
    match result {
        Ok(id) => Json(json!({ "id": id })).into_response(),
        Err(missing) => control_missing(missing, &sku, None),
    }
}

pub(super) async fn control_delete_entry(
    State(shared): State<Arc<Shared>>,
    Path((sku, entry_id)): Path<(String, u64)>,
) -> Response {
    let result = shared.lock().gallery.remove(&sku, entry_id);
    match result {
        Ok(()) => Json(json!({ "deleted": entry_id })).into_response(),
        Err(missing) => control_missing(missing, &sku, Some(entry_id)),
    }
}

pub(super) async fn control_credentials(
    State(shared): State<Arc<Shared>>,
    Json(body): Json<Credentials>,
) -> Response {
    shared.lock().credentials_valid = body.valid;
    Json(json!({ "valid": body.valid })).into_response()
}

pub(super) async fn control_fault(
    State(shared): State<Arc<Shared>>,
    Json(body): Json<FaultRequest>,
) -> Response {
    let fault = match (body.status, body.delay_after_commit_ms) {
        (Some(status), None) if StatusCode::from_u16(status).is_ok() => Fault::Status {
            status,
            retry_after_secs: body.retry_after_secs,
            count: body.count,
        },
        (None, Some(millis)) => Fault::DelayAfterCommit {
            millis,
            count: body.count,
        },
        _ => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({
                    "message": "give either {status, retry_after_secs?, count?} or {delay_after_commit_ms, count?}",
                    "parameters": [],
                })),
            )
                .into_response();
        }
    };
    shared.lock().inject(fault);
    Json(json!({ "queued": true })).into_response()
}

pub(super) async fn control_stats(State(shared): State<Arc<Shared>>) -> Response {
    let s = shared.lock().stats;
    Json(json!({
        "gets": s.gets,
        "posts": s.posts,
        "puts": s.puts,
        "deletes": s.deletes,
        "unauthorized": s.unauthorized,
        "throttled": s.throttled,
        "requests_during_retry_after": s.requests_during_retry_after,
        "max_concurrent_writes_per_sku": s.max_concurrent_writes_per_sku,
        "overlapping_writes": s.overlapping_writes,
    }))
    .into_response()
}
