//! Update advisories from mock npm, GitHub and Homebrew feeds: answers, outages, hangs,
//! malformed answers, and the cache.

use crate::common::tmp_base;
use codex_driver::install::NpmConfig;
use codex_driver::update::{
    Advisory, GitHubSource, HomebrewSource, NpmSource, ReleaseSource, SourceOutcome, UpdateChecker,
};
use codex_driver_testkit::{FeedFault, MockReleases, ReleaseFeed};
use semver::Version;
use std::sync::Arc;
use std::time::Duration;

fn v(s: &str) -> Version {
    Version::parse(s).unwrap()
}

fn checker(m: &MockReleases, cache: Option<std::path::PathBuf>) -> UpdateChecker {
    let sources: Vec<Arc<dyn ReleaseSource>> = vec![
        Arc::new(NpmSource::with_config(NpmConfig::new(m.url()))),
        Arc::new(GitHubSource::new().api_base(m.url())),
        Arc::new(HomebrewSource::new().api_base(m.homebrew_api())),
    ];
    UpdateChecker::new()
        .sources(sources)
        .cache_file(cache)
        .timeout(Duration::from_millis(500))
}

fn ok(source: &str, latest: &str, cached: bool) -> SourceOutcome {
    serde_json::from_value(serde_json::json!({
        "source": source, "latest": latest, "error": null, "cached": cached
    }))
    .unwrap()
}

#[tokio::test]
async fn every_source_answers_and_the_newest_decides() {
    let m = MockReleases::start("0.171.0").await.unwrap();
    m.set_latest(ReleaseFeed::Homebrew, "0.169.0");
    let report = checker(&m, None).check(&v("0.169.0")).await;
    assert_eq!(
        report.sources,
        [
            ok("npm", "0.171.0", false),
            ok("github", "0.171.0", false),
            ok("homebrew", "0.169.0", false)
        ]
    );
    assert_eq!(report.latest, Some(v("0.171.0")));
    assert_eq!(
        report.advisory,
        Advisory::NewerAvailable {
            latest: v("0.171.0"),
            tested: true
        }
    );
    let up = checker(&m, None).check(&v("0.171.0")).await;
    assert_eq!(up.advisory, Advisory::UpToDate);
    let newer = checker(&m, None).check(&v("0.172.0")).await;
    assert_eq!(
        newer.advisory,
        Advisory::NewerThanTested {
            newest_tested: v(codex_driver::binary::PINNED_CODEX)
        }
    );
    let old = checker(&m, None).check(&v("0.100.0")).await;
    assert!(matches!(old.advisory, Advisory::Unsupported { .. }));
}

#[tokio::test]
async fn outages_hangs_and_malformed_answers_are_reported_and_the_rest_decide() {
    let m = MockReleases::start("0.172.0").await.unwrap();
    m.set_fault(ReleaseFeed::Npm, Some(FeedFault::Outage));
    m.set_fault(ReleaseFeed::GitHub, Some(FeedFault::Hang));
    let started = std::time::Instant::now();
    let report = checker(&m, None).check(&v("0.171.0")).await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "a hang held the check"
    );
    let errors: Vec<_> = report.sources.iter().map(|s| s.error.clone()).collect();
    assert!(
        errors[0].as_deref().is_some_and(|e| e.contains("HTTP 503")),
        "{errors:?}"
    );
    assert!(
        errors[1]
            .as_deref()
            .is_some_and(|e| e.contains("timed out") || e.contains("no answer within")),
        "{errors:?}"
    );
    assert_eq!(report.sources[2], ok("homebrew", "0.172.0", false));
    assert_eq!(
        report.advisory,
        Advisory::NewerAvailable {
            latest: v("0.172.0"),
            tested: false
        }
    );
    for fault in [FeedFault::NotJson, FeedFault::Malformed] {
        for feed in [ReleaseFeed::Npm, ReleaseFeed::GitHub, ReleaseFeed::Homebrew] {
            m.set_fault(feed, Some(fault));
        }
        let report = checker(&m, None).check(&v("0.171.0")).await;
        assert_eq!(report.latest, None, "{fault:?}");
        assert_eq!(report.advisory, Advisory::Unknown);
        for s in &report.sources {
            let e = s.error.clone().unwrap_or_default();
            let expected = match fault {
                FeedFault::NotJson => e.contains("not JSON"),
                _ => e.contains("is missing") || e.contains("is not a version"),
            };
            assert!(expected, "{fault:?} {}: {e}", s.source);
        }
    }
}

#[tokio::test]
async fn answers_are_cached_until_they_expire_or_a_refresh() {
    let m = MockReleases::start("0.171.0").await.unwrap();
    let dir = tempfile::tempdir_in(tmp_base()).unwrap();
    let cache = dir.path().join("sub/update-check.json");
    let first = checker(&m, Some(cache.clone())).check(&v("0.171.0")).await;
    assert!(first.sources.iter().all(|s| !s.cached));
    assert_eq!(m.requests().len(), 3);
    assert!(cache.exists());
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // Cached: no request, even while every feed is down.
    for feed in [ReleaseFeed::Npm, ReleaseFeed::GitHub, ReleaseFeed::Homebrew] {
        m.set_fault(feed, Some(FeedFault::Outage));
    }
    let second = checker(&m, Some(cache.clone())).check(&v("0.171.0")).await;
    assert_eq!(
        second.sources,
        [
            ok("npm", "0.171.0", true),
            ok("github", "0.171.0", true),
            ok("homebrew", "0.171.0", true)
        ]
    );
    assert_eq!(m.requests().len(), 3);
    // A refresh asks again; failed answers don't replace cached ones.
    let refreshed = checker(&m, Some(cache.clone()))
        .refresh(true)
        .check(&v("0.171.0"))
        .await;
    assert!(refreshed.sources.iter().all(|s| s.error.is_some()));
    assert_eq!(m.requests().len(), 6);
    let again = checker(&m, Some(cache.clone())).check(&v("0.171.0")).await;
    assert!(again.sources.iter().all(|s| s.cached));
    // Expired: asked again. A corrupt cache is a cache miss, not an error.
    for feed in [ReleaseFeed::Npm, ReleaseFeed::GitHub, ReleaseFeed::Homebrew] {
        m.set_fault(feed, None);
        m.set_latest(feed, "0.172.0");
    }
    let expired = checker(&m, Some(cache.clone()))
        .ttl(Duration::ZERO)
        .check(&v("0.171.0"))
        .await;
    assert_eq!(expired.latest, Some(v("0.172.0")));
    std::fs::write(&cache, "{not json").unwrap();
    let corrupt = checker(&m, Some(cache.clone())).check(&v("0.171.0")).await;
    assert!(
        corrupt
            .sources
            .iter()
            .all(|s| !s.cached && s.error.is_none())
    );
}
