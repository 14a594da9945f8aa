//! A fake `codex app-server` for the faults the real one can't produce on demand: it answers
//! `initialize` (after misbehaving as `$FAKE_MODE` says), then every request with
//! `{"ok":true}`.

use codex_driver::Binary;
use codex_driver::app_server::AppServer;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

const FAKE_APP_SERVER: &str = r#"#!/usr/bin/env bash
id_of() { sed -n 's/.*"id":\([0-9][0-9]*\).*/\1/p' <<<"$1"; }
read -r line
id=$(id_of "$line")
case "$FAKE_MODE" in
  silent) sleep 300; exit 0 ;;
  closed-stdout) exec 1>&-; sleep 300; exit 0 ;;
  garbage)
    echo 'Reading additional input from stdin...'
    echo ''
    echo '{"jsonrpc":"2.0","method":"future/notification","params":{"shape":["new"]}}'
    echo '{"id":"not-ours","result":5}'
    echo '[1,2,3]'
    ;;
  invalid-utf8)
    printf '\xff\xfe\xfd not text\n'
    printf '{"method":"thread/started","params":{"thread":{"id":"caf\xe9"}}}\n'
    ;;
  huge)
    printf '{"method":"future/blob","params":{"blob":"'
    head -c 104857600 /dev/zero | tr '\0' 'a'
    printf '"}}\n'
    ;;
  crash-after-init) ;;
esac
echo '{"id":'"$id"',"result":{"userAgent":"fake/0.171.0"}}'
[ "$FAKE_MODE" = crash-after-init ] && { read -r line; kill -9 $$; }
while read -r line; do
  id=$(id_of "$line")
  [ -n "$id" ] && echo '{"id":'"$id"',"result":{"ok":true}}'
done
"#;

pub fn fake_app_server_path() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| crate::common::write_script("fake-app-server", FAKE_APP_SERVER))
        .clone()
}

/// An [`AppServer`] on the fake, misbehaving as `mode` says.
pub fn fake_app_server(mode: &str) -> AppServer {
    AppServer::new()
        .binary(Binary::at(fake_app_server_path()).with_version(semver::Version::new(0, 171, 0)))
        .env("FAKE_MODE", mode)
        .request_timeout(Duration::from_secs(3))
        .kill_grace(Duration::from_millis(300))
}
