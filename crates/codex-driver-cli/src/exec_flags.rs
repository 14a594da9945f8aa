//! `run` takes every `codex exec` option the library's builder has, from the builder's own
//! table ([`Exec::options`]): the CLI can't fall behind the library.

use clap::builder::PossibleValuesParser;
use clap::{Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches};
use codex_driver::Exec;
use codex_driver::exec::FlagValue;

/// The options `run` declares itself (with their own help and handling).
const OWN: &[&str] = &["--model", "--sandbox", "--cd", "--output-schema"];

/// The short forms `codex exec` itself has for options of the table.
const SHORT: &[(&str, char)] = &[
    ("--image", 'i'),
    ("--profile", 'p'),
    ("--output-last-message", 'o'),
];

/// The exec options given, in the order of the table: `(flag, value)`.
#[derive(Debug, Clone, Default)]
pub struct ExecFlags(pub Vec<(&'static str, Option<String>)>);

impl ExecFlags {
    /// `exec` with every option given set.
    pub fn apply(&self, mut exec: Exec) -> codex_driver::Result<Exec> {
        for (flag, value) in &self.0 {
            exec = exec.option(flag, value.as_deref())?;
        }
        Ok(exec)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn table() -> impl Iterator<Item = codex_driver::exec::FlagInfo> {
    Exec::options()
        .into_iter()
        .filter(|i| !OWN.contains(&i.flag))
}

/// The clap id (and long name) of a flag.
fn name(flag: &'static str) -> &'static str {
    flag.trim_start_matches("--")
}

impl Args for ExecFlags {
    fn augment_args(cmd: Command) -> Command {
        table().fold(cmd, |cmd, info| {
            let mut arg = Arg::new(name(info.flag)).long(name(info.flag));
            if let Some((_, c)) = SHORT.iter().find(|(f, _)| *f == info.flag) {
                arg = arg.short(*c);
            }
            let arg = arg
                .help(format!("`codex exec {}`", info.flag))
                .help_heading("Options of codex exec");
            let arg = match info.value {
                FlagValue::Switch => arg.action(ArgAction::SetTrue),
                FlagValue::One(choices) | FlagValue::Many(choices) => {
                    let arg = if matches!(info.value, FlagValue::Many(_)) {
                        arg.action(ArgAction::Append)
                    } else {
                        arg.action(ArgAction::Set)
                    }
                    .value_name("VALUE");
                    if choices.is_empty() {
                        arg
                    } else {
                        arg.value_parser(PossibleValuesParser::new(choices.iter().copied()))
                    }
                }
                _ => arg.action(ArgAction::Set),
            };
            cmd.arg(arg)
        })
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

impl FromArgMatches for ExecFlags {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        let mut out = Vec::new();
        for info in table() {
            let id = name(info.flag);
            match info.value {
                FlagValue::Switch => {
                    if m.get_flag(id) {
                        out.push((info.flag, None));
                    }
                }
                _ => {
                    for v in m.get_many::<String>(id).into_iter().flatten() {
                        out.push((info.flag, Some(v.clone())));
                    }
                }
            }
        }
        Ok(Self(out))
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(clap::Parser, Debug)]
    struct Probe {
        #[command(flatten)]
        flags: ExecFlags,
    }

    /// Every option of the builder's table is accepted and lands in the argv Codex gets.
    #[test]
    fn every_exec_option_of_the_library_is_a_run_option() {
        use clap::Parser;
        let mut checked = 0;
        for info in table() {
            let mut argv = vec!["probe".to_owned(), info.flag.to_owned()];
            let value = match info.value {
                FlagValue::Switch => None,
                FlagValue::One(c) | FlagValue::Many(c) => {
                    Some(c.first().copied().unwrap_or("some-value").to_owned())
                }
                _ => None,
            };
            argv.extend(value.clone());
            let parsed = Probe::try_parse_from(&argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
            let exec = parsed.flags.apply(Exec::new("x")).unwrap();
            let args: Vec<String> = exec
                .args()
                .unwrap()
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            let at = args.iter().position(|a| a == info.flag);
            assert!(at.is_some(), "{} not in {args:?}", info.flag);
            if let (Some(at), Some(v)) = (at, value) {
                assert_eq!(args.get(at + 1), Some(&v));
            }
            checked += 1;
        }
        assert!(checked >= 20, "{checked}");
        assert!(Probe::try_parse_from(["probe", "--color", "purple"]).is_err());
    }

    /// `-i`, `-p` and `-o` mean what they mean to `codex exec`.
    #[test]
    fn codex_exec_short_forms() {
        use clap::Parser;
        let parsed =
            Probe::try_parse_from(["probe", "-i", "a.png", "-p", "work", "-o", "last.txt"])
                .unwrap_or_else(|e| panic!("{e}"));
        let mut got = parsed.flags.0;
        got.sort();
        assert_eq!(
            got,
            [
                ("--image", Some("a.png".to_owned())),
                ("--output-last-message", Some("last.txt".to_owned())),
                ("--profile", Some("work".to_owned())),
            ]
        );
    }
}
