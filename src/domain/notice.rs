//! Notices: the announcements operators publish to game clients. The rules their fields obey,
//! which notices a client sees and in what order, and the admin list's pages. No I/O.

use std::cmp::Ordering;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use super::clock::Millis;
use super::{Error, Result};

/// Longest title, characters.
pub const TITLE_MAX_CHARS: usize = 200;
/// Longest content, bytes of UTF-8 (so a full notice fits the default request limit).
pub const CONTENT_MAX_BYTES: usize = 20_000;
/// Longest locale tag, characters.
pub const LOCALE_MAX: usize = 35;
/// Latest start or end accepted: the last millisecond of the year 9999.
pub const TIME_MAX_MS: Millis = 253_402_300_799_999;
/// Most notices a client is sent.
pub const LIST_MAX: usize = 10;
/// Admin page size when none is asked for.
pub const PAGE_DEFAULT: u32 = 20;
/// Largest admin page.
pub const PAGE_MAX: u32 = 100;

/// A notice's id in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NoticeId(pub i64);

impl NoticeId {
    /// The id a caller named; ids are positive.
    pub fn parse(id: i64) -> Result<NoticeId> {
        if id > 0 {
            Ok(NoticeId(id))
        } else {
            Err(Error::param("id: must be a positive notice id"))
        }
    }
}

impl std::fmt::Display for NoticeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// What an operator sets on a notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeFields {
    pub title: String,
    pub content: String,
    /// Higher comes first.
    pub sort: i32,
    /// Shown from, unix milliseconds (inclusive).
    pub start_ms: Millis,
    /// Shown until, unix milliseconds (exclusive).
    pub end_ms: Millis,
    /// A BCP 47 tag in canonical case, or empty for every locale.
    pub locale: String,
}

/// A stored notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub id: NoticeId,
    pub fields: NoticeFields,
    pub created_ms: Millis,
    pub updated_ms: Millis,
}

impl Notice {
    pub fn is_active(&self, now: Millis) -> bool {
        self.fields.start_ms <= now && now < self.fields.end_ms
    }
}

impl NoticeFields {
    /// The fields if they obey the rules, with the locale in canonical case; otherwise
    /// `PARAM_INVALID` naming the first field at fault.
    pub fn checked(mut self) -> Result<Self> {
        check_text("title", &self.title, |c| !c.is_control())?;
        if self.title.chars().count() > TITLE_MAX_CHARS {
            return Err(Error::param("title: at most 200 characters"));
        }
        check_text("content", &self.content, |c| {
            !c.is_control() || matches!(c, '\t' | '\r' | '\n')
        })?;
        if self.content.len() > CONTENT_MAX_BYTES {
            return Err(Error::param("content: at most 20000 bytes"));
        }
        self.locale = locale(&self.locale)?;
        let in_range = |ms: Millis| (0..=TIME_MAX_MS).contains(&ms);
        if !in_range(self.start_ms) || !in_range(self.end_ms) {
            return Err(Error::param(
                "start, end: unix milliseconds between 1970 and the end of 9999",
            ));
        }
        if self.start_ms >= self.end_ms {
            return Err(Error::param("end: must be after start"));
        }
        Ok(self)
    }
}

/// Refuses text that is blank or holds a character `allowed` refuses.
fn check_text(field: &str, text: &str, allowed: impl Fn(char) -> bool) -> Result<()> {
    if text.trim().is_empty() {
        return Err(Error::param(format!("{field}: must not be empty")));
    }
    if !text.chars().all(allowed) {
        return Err(Error::param(format!(
            "{field}: must not hold control characters"
        )));
    }
    Ok(())
}

/// A locale tag in canonical case (`en`, `en-US`, `zh-Hans`), empty for none; `None` when it
/// is not a tag. Accepted: a language of 2 to 8 letters, then subtags of 1 to 8 letters or
/// digits, joined by `-`, at most 35 characters. Case follows BCP 47's convention: the language
/// lower case, a 4-letter script title case, a 2-letter region upper case, the rest (and
/// everything after a one-character extension subtag) lower case.
pub fn canonical_locale(tag: &str) -> Option<String> {
    if tag.is_empty() {
        return Some(String::new());
    }
    if tag.len() > LOCALE_MAX {
        return None;
    }
    let mut out = String::with_capacity(tag.len());
    let mut extension = false;
    for (i, sub) in tag.split('-').enumerate() {
        let alnum = sub.chars().all(|c| c.is_ascii_alphanumeric());
        if !alnum || !(1..=8).contains(&sub.len()) {
            return None;
        }
        if i > 0 {
            out.push('-');
        }
        let alpha = sub.chars().all(|c| c.is_ascii_alphabetic());
        if i == 0 {
            if !alpha || sub.len() < 2 {
                return None;
            }
            out.push_str(&sub.to_ascii_lowercase());
        } else if extension || sub.len() == 1 {
            extension = true;
            out.push_str(&sub.to_ascii_lowercase());
        } else if alpha && sub.len() == 4 {
            out.push_str(&sub[..1].to_ascii_uppercase());
            out.push_str(&sub[1..].to_ascii_lowercase());
        } else if alpha && sub.len() == 2 {
            out.push_str(&sub.to_ascii_uppercase());
        } else {
            out.push_str(&sub.to_ascii_lowercase());
        }
    }
    Some(out)
}

/// A locale an operator named, in canonical case; `PARAM_INVALID` when it is not a tag.
pub fn locale(tag: &str) -> Result<String> {
    canonical_locale(tag)
        .ok_or_else(|| Error::param("locale: not a BCP 47 tag of at most 35 characters"))
}

/// The locale a client asked for, in canonical case; `_` is read as `-` (`en_US`).
pub fn client_locale(asked: &str) -> Result<String> {
    locale(&asked.replace('_', "-"))
}

/// The locales tried for a client's tag, most specific first, ending with the empty locale:
/// `zh-Hans-CN`, `zh-Hans`, `zh`, `` (a one-character subtag left at the end is skipped).
pub fn lookup_chain(locale: &str) -> Vec<&str> {
    let mut chain = Vec::new();
    let mut tag = locale;
    while !tag.is_empty() {
        chain.push(tag);
        tag = tag.rsplit_once('-').map_or("", |(rest, _)| rest);
        if let Some((rest, last)) = tag.rsplit_once('-')
            && last.len() == 1
        {
            tag = rest;
        }
    }
    chain.push("");
    chain
}

/// Display order: highest `sort` first, then the latest start, then the highest id.
pub fn rank(a: &Notice, b: &Notice) -> Ordering {
    let key = |n: &Notice| (n.fields.sort, n.fields.start_ms, n.id);
    key(b).cmp(&key(a))
}

/// What a client asking for `locale` sees at `now`, from `held` in [`rank`] order: the active
/// notices of the first locale in [`lookup_chain`] that has any, at most [`LIST_MAX`].
pub fn for_client<'a>(held: &'a [Notice], now: Millis, locale: &str) -> Vec<&'a Notice> {
    for candidate in lookup_chain(locale) {
        let chosen: Vec<&Notice> = held
            .iter()
            .filter(|n| n.fields.locale == candidate && n.is_active(now))
            .take(LIST_MAX)
            .collect();
        if !chosen.is_empty() {
            return chosen;
        }
    }
    Vec::new()
}

/// The admin page size asked for: 0 means the default.
pub fn page_size(asked: i32) -> Result<u32> {
    match u32::try_from(asked) {
        Ok(0) => Ok(PAGE_DEFAULT),
        Ok(n) if n <= PAGE_MAX => Ok(n),
        _ => Err(Error::param("pageSize: must be between 1 and 100")),
    }
}

/// The token of the page after the one that ended with `last`.
pub fn page_token(last: NoticeId) -> String {
    URL_SAFE_NO_PAD.encode(last.0.to_be_bytes())
}

/// Where a page token says to continue (below this id); none for the first page.
pub fn parse_page_token(token: &str) -> Result<Option<NoticeId>> {
    if token.is_empty() {
        return Ok(None);
    }
    let bad = || Error::param("pageToken: not a token this service issued");
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    let bytes = <[u8; 8]>::try_from(bytes.as_slice()).map_err(|_| bad())?;
    match i64::from_be_bytes(bytes) {
        id if id > 0 => Ok(Some(NoticeId(id))),
        _ => Err(bad()),
    }
}

#[cfg(test)]
#[path = "notice_tests.rs"]
mod tests;
