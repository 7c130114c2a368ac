//! The Sync Status listing's values: which assets (status, asset id prefix, SKU), in which order, and the
//! keyset cursor that pages through them without `OFFSET` (each page is one index range, whatever the size).

use crate::SyncStatus;
use domain::{AssetId, Sku};

/// The order of the Sync Status listing. Every order ends with the asset id, so that it is total.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum AssetSort {
    /// Processed last first (an asset never processed counts as processed at 0).
    #[default]
    ProcessingDesc,
    ProcessingAsc,
    AssetIdAsc,
    AssetIdDesc,
}

impl AssetSort {
    /// Every order, for forms and tests.
    pub const ALL: [Self; 4] = [
        Self::ProcessingDesc,
        Self::ProcessingAsc,
        Self::AssetIdAsc,
        Self::AssetIdDesc,
    ];

    /// The name used in URLs (`?sort=`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ProcessingDesc => "processing_desc",
            Self::ProcessingAsc => "processing_asc",
            Self::AssetIdAsc => "asset_id_asc",
            Self::AssetIdDesc => "asset_id_desc",
        }
    }

    /// Reads a URL name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether it orders by processing time (else by asset id alone).
    pub fn by_processing(self) -> bool {
        matches!(self, Self::ProcessingDesc | Self::ProcessingAsc)
    }

    /// Whether it is descending.
    pub fn descending(self) -> bool {
        matches!(self, Self::ProcessingDesc | Self::AssetIdDesc)
    }
}

/// A position in the listing: the sort key of a row (its processing time, 0 when never processed, and its
/// asset id). Opaque in URLs: [`AssetCursor::encode`] / [`AssetCursor::parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetCursor {
    pub processing_ms: i64,
    pub asset_id: String,
}

impl AssetCursor {
    /// The cursor's text (`<processing ms>~<asset id>`).
    pub fn encode(&self) -> String {
        format!("{}~{}", self.processing_ms, self.asset_id)
    }

    /// Reads a cursor's text; `None` when it is not one.
    pub fn parse(text: &str) -> Option<Self> {
        let (ms, id) = text.split_once('~')?;
        Some(Self {
            processing_ms: ms.parse().ok()?,
            asset_id: id.to_owned(),
        })
    }
}

/// Which way to page from the cursor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PageDirection {
    /// The rows after the cursor (the next page).
    #[default]
    After,
    /// The rows before the cursor (the previous page), returned in the listing's order.
    Before,
}

/// One page of the Sync Status listing: filters, order and position.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssetListQuery {
    pub status: Option<SyncStatus>,
    /// Assets whose id starts with this (an exact id lists that asset). With it, the listing is in asset id
    /// order (ascending unless `AssetIdDesc`): a prefix is a range of ids, and sorting it by time would read
    /// every asset in it.
    pub asset_id_prefix: Option<String>,
    /// Assets that claim this SKU (ask to be in its gallery).
    pub sku: Option<Sku>,
    pub sort: AssetSort,
    /// Where the page starts (exclusive); `None`: the first page (`After`) or the last page (`Before`).
    pub cursor: Option<AssetCursor>,
    pub direction: PageDirection,
    /// At most this many rows (1 … 500).
    pub limit: i64,
}

impl AssetListQuery {
    /// The order actually used: asset id order when a prefix is given.
    pub fn effective_sort(&self) -> AssetSort {
        match (self.asset_id_prefix.is_some(), self.sort) {
            (true, AssetSort::ProcessingDesc | AssetSort::ProcessingAsc) => AssetSort::AssetIdAsc,
            (_, sort) => sort,
        }
    }

    /// The row limit, clamped to 1 … 500.
    pub fn clamped_limit(&self) -> i64 {
        self.limit.clamp(1, 500)
    }

    /// The upper bound (exclusive) of the prefix's id range: every id that starts with the prefix sorts
    /// below it (byte order).
    pub fn prefix_end(prefix: &str) -> String {
        format!("{prefix}\u{10FFFF}")
    }
}

/// One asset in the Sync Status listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetRow {
    pub asset_id: AssetId,
    /// Its label (alt text, else `dc:title`) as its first claim carries it; `None` without claims.
    pub name: Option<String>,
    pub status: SyncStatus,
    pub processing_ms: Option<i64>,
    pub dispatched_ms: Option<i64>,
    pub latency_ms: Option<i64>,
    /// SKUs whose galleries hold it now.
    pub linked_skus: Vec<Sku>,
    pub last_error: Option<String>,
}

impl AssetRow {
    /// This row's position, for the next or previous page.
    pub fn cursor(&self) -> AssetCursor {
        AssetCursor {
            processing_ms: self.processing_ms.unwrap_or(0),
            asset_id: self.asset_id.as_str().to_owned(),
        }
    }
}

/// One page of the listing, in the listing's order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssetPage {
    pub rows: Vec<AssetRow>,
    /// Whether rows follow the last one.
    pub has_next: bool,
    /// Whether rows precede the first one.
    pub has_previous: bool,
}

/// An event received for an asset (its history).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetEvent {
    pub event_id: String,
    pub event_type: String,
    pub received_ms: i64,
}

/// Turns `limit + 1` fetched rows (in fetch order) into a page in the listing's order.
pub(crate) fn into_page(mut rows: Vec<AssetRow>, query: &AssetListQuery) -> AssetPage {
    let limit = usize::try_from(query.clamped_limit()).unwrap_or(1);
    let more = rows.len() > limit;
    rows.truncate(limit);
    match query.direction {
        PageDirection::After => AssetPage {
            rows,
            has_next: more,
            has_previous: query.cursor.is_some(),
        },
        PageDirection::Before => {
            rows.reverse();
            AssetPage {
                rows,
                has_next: query.cursor.is_some(),
                has_previous: more,
            }
        }
    }
}

/// The SQL dialect a listing query is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

/// A value bound to a listing query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Bound {
    Text(String),
    Int(i64),
}

/// The listing's statement for `query` and its parameters, in order. Each filter and order is one index
/// range (see the migration V14 and the plan test): `(status, COALESCE(processing_ms, 0), asset_id)`,
/// `(status, asset_id)`, `(COALESCE(processing_ms, 0), asset_id)`, the primary key, and with a SKU the claims'
/// `(sku, asset_id)` (sorted by time, only that SKU's assets are sorted). It fetches `limit + 1` rows to
/// tell whether more follow; a `Before` page is fetched in reverse order ([`into_page`] turns it back).
pub(crate) fn list_sql(query: &AssetListQuery, dialect: Dialect) -> (String, Vec<Bound>) {
    let mut params: Vec<Bound> = Vec::new();
    let param = |value: Bound, params: &mut Vec<Bound>| {
        params.push(value);
        match dialect {
            Dialect::Sqlite => format!("?{}", params.len()),
            Dialect::Postgres => format!("${}", params.len()),
        }
    };
    let sort = query.effective_sort();
    let id = if query.sku.is_some() {
        "c.asset_id"
    } else {
        "a.asset_id"
    };
    let time = "COALESCE(a.processing_ms, 0)";
    let mut sql = String::from("SELECT a.asset_id, ");
    sql.push_str(match dialect {
        Dialect::Sqlite => {
            "(SELECT json_extract(n.link, '$.label') FROM claims n WHERE n.asset_id = a.asset_id
               ORDER BY n.sku LIMIT 1),
             a.status, a.processing_ms, a.dispatched_ms, a.last_latency_ms,
             (SELECT group_concat(g.sku, char(10)) FROM gallery g WHERE g.asset_id = a.asset_id),
             a.last_error"
        }
        Dialect::Postgres => {
            "(SELECT n.link::json ->> 'label' FROM claims n WHERE n.asset_id = a.asset_id
               ORDER BY n.sku LIMIT 1),
             a.status, a.processing_ms, a.dispatched_ms, a.last_latency_ms,
             (SELECT string_agg(g.sku, E'\\n' ORDER BY g.sku) FROM gallery g WHERE g.asset_id = a.asset_id),
             a.last_error"
        }
    });
    let mut conditions: Vec<String> = Vec::new();
    match &query.sku {
        Some(sku) => {
            // The SKU's claims drive the join (SQLite's CROSS JOIN keeps that order): a status would
            // read every asset in it.
            sql.push_str(match dialect {
                Dialect::Sqlite => " FROM claims c CROSS JOIN assets a ON a.asset_id = c.asset_id",
                Dialect::Postgres => " FROM claims c JOIN assets a ON a.asset_id = c.asset_id",
            });
            let p = param(Bound::Text(sku.as_str().to_owned()), &mut params);
            conditions.push(format!("c.sku = {p}"));
        }
        None => sql.push_str(" FROM assets a"),
    }
    if let Some(status) = query.status {
        let p = param(Bound::Text(status.as_str().to_owned()), &mut params);
        conditions.push(format!("a.status = {p}"));
    }
    if let Some(prefix) = &query.asset_id_prefix {
        let low = param(Bound::Text(prefix.clone()), &mut params);
        let high = param(Bound::Text(AssetListQuery::prefix_end(prefix)), &mut params);
        conditions.push(format!("{id} >= {low} AND {id} < {high}"));
    }
    // Fetching backwards reverses the order; the cursor compares in the fetch order.
    let descending = sort.descending() != (query.direction == PageDirection::Before);
    let (cmp, dir) = if descending {
        ("<", "DESC")
    } else {
        (">", "ASC")
    };
    if let Some(cursor) = &query.cursor {
        if sort.by_processing() {
            let ms = param(Bound::Int(cursor.processing_ms), &mut params);
            let after = param(Bound::Text(cursor.asset_id.clone()), &mut params);
            // The first term is the index range (a row-value comparison with an expression is not one in
            // SQLite); the second settles the rows at the cursor's time.
            conditions.push(format!(
                "{time} {cmp}= {ms} AND ({time} {cmp} {ms} OR {id} {cmp} {after})"
            ));
        } else {
            let after = param(Bound::Text(cursor.asset_id.clone()), &mut params);
            conditions.push(format!("{id} {cmp} {after}"));
        }
    }
    if !conditions.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conditions.join(" AND "));
    }
    if sort.by_processing() {
        sql.push_str(&format!(" ORDER BY {time} {dir}, {id} {dir}"));
    } else {
        sql.push_str(&format!(" ORDER BY {id} {dir}"));
    }
    let limit = param(Bound::Int(query.clamped_limit() + 1), &mut params);
    sql.push_str(&format!(" LIMIT {limit}"));
    (sql, params)
}

/// Splits the linked SKUs as the listing's statement joins them (one per line; SKUs hold no control
/// characters), sorted.
pub(crate) fn split_skus(joined: Option<&str>) -> Vec<String> {
    let mut skus: Vec<String> = joined
        .unwrap_or_default()
        .split('\n')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    skus.sort();
    skus
}
