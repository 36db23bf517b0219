use super::*;

fn fields() -> NoticeFields {
    NoticeFields {
        title: "Maintenance".into(),
        content: "Servers restart at 04:00 UTC.\nBack by 05:00.".into(),
        sort: 0,
        start_ms: 1_000,
        end_ms: 2_000,
        locale: String::new(),
    }
}

fn notice(id: i64, sort: i32, start_ms: Millis, end_ms: Millis, locale: &str) -> Notice {
    Notice {
        id: NoticeId(id),
        fields: NoticeFields {
            sort,
            start_ms,
            end_ms,
            locale: locale.into(),
            ..fields()
        },
        created_ms: 0,
        updated_ms: 0,
    }
}

fn refused(f: NoticeFields) -> String {
    f.checked().unwrap_err().message.into_owned()
}

#[test]
fn good_fields_pass_with_the_locale_in_canonical_case() {
    let f = NoticeFields {
        locale: "ZH-hans-cn".into(),
        ..fields()
    };
    assert_eq!(f.checked().unwrap().locale, "zh-Hans-CN");
    assert_eq!(fields().checked().unwrap(), fields());
    let edge = NoticeFields {
        title: "t".repeat(TITLE_MAX_CHARS),
        content: "é".repeat(CONTENT_MAX_BYTES / 2),
        sort: i32::MIN,
        start_ms: 0,
        end_ms: TIME_MAX_MS,
        locale: "en".into(),
    };
    assert!(edge.checked().is_ok());
}

#[test]
fn titles_are_one_line_of_at_most_200_characters() {
    for title in ["", "   ", "a\nb", "a\u{0}b"] {
        let msg = refused(NoticeFields {
            title: title.into(),
            ..fields()
        });
        assert!(msg.starts_with("title:"), "{title:?}: {msg}");
    }
    let long = NoticeFields {
        title: "界".repeat(TITLE_MAX_CHARS + 1),
        ..fields()
    };
    assert_eq!(refused(long), "title: at most 200 characters");
}

#[test]
fn content_is_bounded_in_bytes_and_keeps_line_breaks() {
    let tabs = NoticeFields {
        content: "a\tb\r\nc".into(),
        ..fields()
    };
    assert!(tabs.checked().is_ok());
    for content in ["", "\n\t ", "nul\u{0}", "bell\u{7}"] {
        let msg = refused(NoticeFields {
            content: content.into(),
            ..fields()
        });
        assert!(msg.starts_with("content:"), "{content:?}: {msg}");
    }
    let long = NoticeFields {
        content: "é".repeat(CONTENT_MAX_BYTES / 2 + 1),
        ..fields()
    };
    assert_eq!(refused(long), "content: at most 20000 bytes");
}

#[test]
fn end_must_follow_start_within_range() {
    let same = NoticeFields {
        end_ms: 1_000,
        ..fields()
    };
    assert_eq!(refused(same), "end: must be after start");
    let before = NoticeFields {
        start_ms: 5_000,
        ..fields()
    };
    assert_eq!(refused(before), "end: must be after start");
    for (start_ms, end_ms) in [(-1, 10), (0, TIME_MAX_MS + 1), (0, i64::MAX)] {
        let msg = refused(NoticeFields {
            start_ms,
            end_ms,
            ..fields()
        });
        assert!(msg.starts_with("start, end:"), "{msg}");
    }
}

#[test]
fn locales_are_bcp47_ish_tags() {
    for (tag, canonical) in [
        ("", ""),
        ("en", "en"),
        ("EN-us", "en-US"),
        ("zh-hans", "zh-Hans"),
        ("es-419", "es-419"),
        ("de-CH-1996", "de-CH-1996"),
        ("en-x-TWAIN", "en-x-twain"),
    ] {
        assert_eq!(canonical_locale(tag).as_deref(), Some(canonical), "{tag}");
    }
    let long = format!("en-{}", ["abcdefgh"; 4].join("-"));
    for tag in [
        "e",
        "1a",
        "en-",
        "-en",
        "en--US",
        "en_US",
        "en US",
        "en-abcdefghi",
        &long,
    ] {
        assert_eq!(canonical_locale(tag), None, "{tag}");
    }
    assert_eq!(client_locale("en_us").unwrap(), "en-US");
    assert!(client_locale("not a tag").is_err());
}

#[test]
fn lookup_goes_from_specific_to_every_locale() {
    assert_eq!(
        lookup_chain("zh-Hans-CN"),
        ["zh-Hans-CN", "zh-Hans", "zh", ""]
    );
    assert_eq!(lookup_chain("en-US"), ["en-US", "en", ""]);
    assert_eq!(lookup_chain("en-x-twain"), ["en-x-twain", "en", ""]);
    assert_eq!(lookup_chain(""), [""]);
}

#[test]
fn clients_see_active_notices_of_the_best_locale_in_rank_order() {
    let mut held = vec![
        notice(1, 0, 100, 200, ""),
        notice(2, 5, 100, 200, ""),
        notice(3, 5, 150, 200, ""),
        notice(4, 0, 100, 200, "en"),
        notice(5, 9, 300, 400, "en-US"),
        notice(6, 0, 100, 150, "en-US"),
    ];
    held.sort_by(rank);
    let ids = |locale: &str, now: Millis| -> Vec<i64> {
        for_client(&held, now, locale)
            .iter()
            .map(|n| n.id.0)
            .collect()
    };
    assert_eq!(ids("", 160), [3, 2, 1]);
    assert_eq!(ids("en-US", 120), [6], "exact match wins");
    assert_eq!(
        ids("en-US", 150),
        [4],
        "ended at 150: falls back to the language"
    );
    assert_eq!(ids("en-US", 350), [5]);
    assert_eq!(ids("fr-FR", 160), [3, 2, 1], "falls back to every locale");
    assert_eq!(ids("", 99), Vec::<i64>::new(), "not started");
    assert_eq!(ids("", 200), Vec::<i64>::new(), "end is exclusive");
}

#[test]
fn clients_get_at_most_ten() {
    let mut held: Vec<Notice> = (1..=15).map(|id| notice(id, 0, 0, 10, "")).collect();
    held.sort_by(rank);
    let ids: Vec<i64> = for_client(&held, 5, "").iter().map(|n| n.id.0).collect();
    assert_eq!(
        ids,
        (6..=15).rev().collect::<Vec<_>>(),
        "newest id breaks ties"
    );
}

#[test]
fn page_sizes_and_tokens() {
    assert_eq!(page_size(0).unwrap(), PAGE_DEFAULT);
    assert_eq!(page_size(1).unwrap(), 1);
    assert_eq!(page_size(100).unwrap(), 100);
    assert!(page_size(101).is_err());
    assert!(page_size(-1).is_err());
    assert_eq!(parse_page_token("").unwrap(), None);
    let token = page_token(NoticeId(42));
    assert_eq!(parse_page_token(&token).unwrap(), Some(NoticeId(42)));
    let zero = page_token(NoticeId(0));
    for bad in ["!!", "AAAA", zero.as_str(), "AAAAAAAAAAAA"] {
        assert!(parse_page_token(bad).is_err(), "{bad}");
    }
    assert!(NoticeId::parse(0).is_err());
    assert_eq!(NoticeId::parse(7).unwrap(), NoticeId(7));
}
