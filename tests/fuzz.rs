//! Property tests of the parsers that take user text — config TOML, the rules file,
//! connection strings, Databricks profiles — and of the literal encoders: arbitrary
//! input gives a value or a typed error, never a panic. No Spark needed.

use proptest::prelude::*;
use rarecall::config::settings_from_toml;
use rarecall::remote::{Env, RemoteInputs, parse_sc_url, resolve_with_session};
use rarecall::rules::Rules;
use rarecall::score::{sql_double, sql_string};
use rarecall::sql::Ident;

/// TOML-ish text built from the config's own vocabulary, so that the generator
/// reaches the checks behind the parser, not only the TOML syntax errors.
fn config_text() -> impl Strategy<Value = String> {
    let section = prop::sample::select(vec![
        "[spark]",
        "[source]",
        "[columns]",
        "[normalization]",
        "[features]",
        "[model]",
        "[threshold]",
        "[output]",
        "[modle]",
        "",
    ]);
    let key = prop::sample::select(vec![
        "remote",
        "path",
        "table",
        "format",
        "member_id",
        "label",
        "categoricals",
        "rules",
        "top_n_descriptions",
        "min_support",
        "history_days",
        "split_boundary",
        "target_neg_pos_member_ratio",
        "c_grid",
        "class_weight",
        "cv_folds",
        "seed",
        "target_precision",
        "threshold_cap",
        "top_k",
        "dir",
        "timeout_secs",
        "unknown_key",
    ]);
    let value = prop_oneof![
        any::<i64>().prop_map(|v| v.to_string()),
        any::<f64>().prop_map(|v| format!("{v:?}")),
        "[a-zA-Z0-9_ .`';-]{0,20}".prop_map(|s| format!("{s:?}")),
        prop::collection::vec(-5.0f64..200.0, 0..5).prop_map(|v| format!("{v:?}")),
        Just("{ positive = -1.0 }".to_string()),
        Just("\"2024-02-30\"".to_string()),
        Just("nan".to_string()),
    ];
    prop::collection::vec((section, key, value), 0..12).prop_map(|lines| {
        lines
            .into_iter()
            .map(|(s, k, v)| format!("{s}\n{k} = {v}\n"))
            .collect::<String>()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn config_never_panics(text in config_text()) {
        let _ = settings_from_toml(&text);
    }

    #[test]
    fn config_arbitrary_bytes_never_panic(text in "\\PC{0,200}") {
        let _ = settings_from_toml(&text);
    }

    #[test]
    fn rules_never_panic(text in "(rule,match,pattern,canonical\n)?([a-z\"(|^$.*\\\\,]{0,12}(,|\n)){0,20}") {
        let _ = Rules::parse(&text, "fuzz.csv");
    }

    #[test]
    fn connection_strings_never_panic(url in "(sc://)?[a-z0-9.:\\[\\]/;=_-]{0,40}") {
        if let Ok(r) = parse_sc_url(&url, "fuzz") {
            // What parses renders back to a string that parses to the same thing.
            let again = parse_sc_url(&r.connection_string(), "fuzz").unwrap();
            prop_assert_eq!(again.host(), r.host());
            prop_assert_eq!(again.port(), r.port());
        }
    }

    #[test]
    fn profiles_never_panic(cfg in "([\\[\\]a-zA-Z =_:/.;#-]{0,30}\n){0,8}", name in "[A-Za-z]{0,8}") {
        let env = Env {
            vars: Default::default(),
            databrickscfg: Some(("/fuzz/.databrickscfg".into(), cfg)),
        };
        let _ = resolve_with_session(
            &RemoteInputs { profile_flag: Some(name), ..Default::default() },
            &env,
            "00000000-0000-4000-8000-000000000000",
        );
        let _ = resolve_with_session(&RemoteInputs::default(), &env, "00000000-0000-4000-8000-000000000000");
    }

    #[test]
    fn identifiers_quote_and_unquote(raw in "\\PC{1,40}") {
        if let Ok(i) = Ident::new("fuzz", &raw) {
            let q = i.quoted();
            let inner = &q[1..q.len() - 1];
            // Every backtick inside is doubled: the name cannot end the identifier.
            prop_assert_eq!(inner.replace("``", "`"), raw.clone());
            prop_assert!(!inner.replace("``", "").contains('`'));
        }
    }

    #[test]
    fn sql_literals_are_inert(s in "\\PC{0,40}", v in any::<f64>()) {
        let lit = sql_string(&s);
        prop_assert!(lit.starts_with("decode(unhex('") && lit.ends_with("'), 'UTF-8')"));
        prop_assert!(lit[14..lit.len() - 12].chars().all(|c| c.is_ascii_hexdigit()));
        match sql_double(v) {
            Ok(d) => {
                let back: f64 = d.trim_matches(|c| c == '(' || c == ')').trim_end_matches('d').parse().unwrap();
                prop_assert_eq!(back.to_bits(), v.to_bits());
            }
            Err(_) => prop_assert!(!v.is_finite()),
        }
    }
}
