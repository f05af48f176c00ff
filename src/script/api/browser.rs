//! `browser`: the run's browser session.

use std::rc::Rc;

use std::collections::BTreeMap;

use rhai::{Array, Dynamic, Engine, FnPtr, Map, NativeCallContext, INT};

use super::{Failure, Res};
use crate::browser::FieldValue;
use crate::script::Shared;

fn field_value(value: &Dynamic) -> FieldValue {
    match value.clone().try_cast::<bool>() {
        Some(b) => FieldValue::Flag(b),
        None => FieldValue::Text(super::date::text_of(value)),
    }
}

/// The `browser` object.
#[derive(Clone)]
pub struct BrowserApi {
    shared: Rc<Shared>,
}

fn safe_file_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let cleaned = cleaned.trim_matches('-');
    if cleaned.is_empty() {
        "screenshot".into()
    } else {
        cleaned.chars().take(80).collect()
    }
}

impl BrowserApi {
    pub(super) fn new(shared: &Rc<Shared>) -> BrowserApi {
        BrowserApi {
            shared: shared.clone(),
        }
    }

    fn screenshot_path(&self, name: &str) -> (String, std::path::PathBuf) {
        let mut n = self.shared.screenshots.borrow_mut();
        *n += 1;
        let relative = format!("screenshots/{}-{:03}.png", safe_file_name(name), *n);
        let full = self.shared.work_dir.join(&relative);
        (relative, full)
    }
}

fn rows_to_array(rows: Vec<BTreeMap<String, String>>) -> Array {
    rows.into_iter()
        .map(|row| {
            let map: Map = row
                .into_iter()
                .map(|(k, v)| (k.into(), Dynamic::from(v)))
                .collect();
            Dynamic::from_map(map)
        })
        .collect()
}

pub(super) fn register(engine: &mut Engine, _shared: &Rc<Shared>) {
    engine.register_type_with_name::<BrowserApi>("Browser");
    engine.register_fn("open", |b: &mut BrowserApi, url: &str| {
        b.shared
            .block_on_named("browser.open", async |br| br.goto(url).await)
    });
    engine.register_fn("click", |b: &mut BrowserApi, selector: &str| {
        b.shared
            .block_on_named("browser.click", async |br| br.click(selector).await)
    });
    engine.register_fn(
        "click",
        |b: &mut BrowserApi, selector: &str, options: Map| -> Res<()> {
            let confirm = match options.get("confirm") {
                None => None,
                Some(v) => Some(v.as_bool().map_err(|_| {
                    Failure::system("script", "click option `confirm` must be true or false")
                })?),
            };
            if let Some(key) = options.keys().find(|k| k.as_str() != "confirm") {
                return Err(Failure::system(
                    "script",
                    format!("unknown click option `{key}`; the options are: confirm"),
                )
                .into());
            }
            b.shared.block_on_named("browser.click", async |br| {
                br.click(selector).await?;
                match confirm {
                    Some(true) => br.accept_dialog_quietly().await,
                    Some(false) => br.dismiss_dialog().await.map(|_| ()),
                    None => Ok(()),
                }
            })
        },
    );
    engine.register_fn("click_link", |b: &mut BrowserApi, text: &str| {
        b.shared
            .block_on_named("browser.click_link", async |br| br.click_link(text).await)
    });
    engine.register_fn(
        "fill",
        |b: &mut BrowserApi, selector: &str, value: Dynamic| {
            let value = field_value(&value);
            b.shared.block_on(async |br| br.set(selector, &value).await)
        },
    );
    engine.register_fn("fill_form", |b: &mut BrowserApi, fields: Map| {
        let fields: Vec<(String, FieldValue)> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), field_value(v)))
            .collect();
        b.shared.block_on(async |br| br.fill_form(&fields).await)
    });
    engine.register_fn(
        "type",
        |b: &mut BrowserApi, selector: &str, text: Dynamic| {
            let text = super::date::text_of(&text);
            b.shared
                .block_on(async |br| br.type_text(selector, &text).await)
        },
    );
    engine.register_fn(
        "type",
        |b: &mut BrowserApi, selector: &str, text: Dynamic, options: Map| -> Res<()> {
            let text = text.to_string();
            let mut clear = true;
            for (key, value) in &options {
                match key.as_str() {
                    "clear" => {
                        clear = value.as_bool().map_err(|_| {
                            Failure::system("script", "type option `clear` must be true or false")
                        })?
                    }
                    other => {
                        return Err(Failure::system(
                            "script",
                            format!("unknown type option `{other}`; the options are: clear"),
                        )
                        .into())
                    }
                }
            }
            b.shared.block_on(async |br| {
                if clear {
                    br.type_text(selector, &text).await
                } else {
                    br.append_text(selector, &text).await
                }
            })
        },
    );
    engine.register_fn(
        "append",
        |b: &mut BrowserApi, selector: &str, text: Dynamic| {
            let text = text.to_string();
            b.shared
                .block_on(async |br| br.append_text(selector, &text).await)
        },
    );
    engine.register_fn("press", |b: &mut BrowserApi, selector: &str, keys: &str| {
        b.shared
            .block_on_named("browser.press", async |br| br.press(selector, keys).await)
    });
    engine.register_fn("keys", |b: &mut BrowserApi, keys: &str| {
        b.shared
            .block_on_named("browser.keys", async |br| br.keys(keys).await)
    });
    engine.register_fn(
        "select_index",
        |b: &mut BrowserApi, selector: &str, index: INT| -> Res<()> {
            let index = usize::try_from(index).map_err(|_| {
                Failure::system(
                    "script",
                    format!("select_index: {index} is not an option index (0 is the first)"),
                )
            })?;
            b.shared
                .block_on(async |br| br.select_index(selector, index).await)
        },
    );
    engine.register_fn(
        "deselect",
        |b: &mut BrowserApi, selector: &str, option: Dynamic| {
            let option = option.to_string();
            b.shared
                .block_on(async |br| br.deselect(selector, Some(&option)).await)
        },
    );
    engine.register_fn("deselect_all", |b: &mut BrowserApi, selector: &str| {
        b.shared
            .block_on(async |br| br.deselect(selector, None).await)
    });
    engine.register_fn(
        "attribute",
        |b: &mut BrowserApi, selector: &str, name: &str| -> Res<Dynamic> {
            let value = b
                .shared
                .block_on(async |br| br.attribute(selector, name).await)?;
            Ok(value.map(Dynamic::from).unwrap_or(Dynamic::UNIT))
        },
    );
    engine.register_fn("source", |b: &mut BrowserApi| {
        b.shared.block_on(async |br| br.source().await)
    });
    engine.register_fn(
        "execute",
        |b: &mut BrowserApi, script: &str| -> Res<Dynamic> {
            let value = b.shared.block_on_named("browser.execute", async |br| {
                br.execute(script, vec![]).await
            })?;
            Ok(json_to_dynamic(value))
        },
    );
    engine.register_fn(
        "execute",
        |b: &mut BrowserApi, script: &str, args: Array| -> Res<Dynamic> {
            let args: Vec<serde_json::Value> = args.iter().map(dynamic_to_json).collect();
            let value = b
                .shared
                .block_on_named("browser.execute", async |br| br.execute(script, args).await)?;
            Ok(json_to_dynamic(value))
        },
    );
    engine.register_fn("wait_for_title", |b: &mut BrowserApi, wanted: &str| {
        b.shared
            .block_on(async |br| br.wait_for_title(wanted).await)
    });
    engine.register_fn("wait_for_url", |b: &mut BrowserApi, wanted: &str| {
        b.shared.block_on(async |br| br.wait_for_url(wanted).await)
    });
    engine.register_fn("windows", |b: &mut BrowserApi| -> Res<Array> {
        let windows = b.shared.block_on(async |br| br.windows().await)?;
        Ok(windows
            .into_iter()
            .map(|w| {
                let mut m = Map::new();
                m.insert("title".into(), Dynamic::from(w.title));
                m.insert("url".into(), Dynamic::from(w.url));
                m.insert("current".into(), Dynamic::from(w.current));
                Dynamic::from_map(m)
            })
            .collect())
    });
    engine.register_fn("back", |b: &mut BrowserApi| {
        b.shared
            .block_on_named("browser.back", async |br| br.back().await)
    });
    engine.register_fn("forward", |b: &mut BrowserApi| {
        b.shared
            .block_on_named("browser.forward", async |br| br.forward().await)
    });
    engine.register_fn("refresh", |b: &mut BrowserApi| {
        b.shared
            .block_on_named("browser.refresh", async |br| br.refresh().await)
    });
    engine.register_fn("dialog_text", |b: &mut BrowserApi| {
        b.shared.block_on(async |br| br.dialog_text().await)
    });
    engine.register_fn(
        "set_date",
        |b: &mut BrowserApi, selector: &str, date: &str| {
            b.shared
                .block_on(async |br| br.set_date(selector, date).await)
        },
    );
    engine.register_fn(
        "set_date",
        |b: &mut BrowserApi, selector: &str, date: super::date::ScriptDate| {
            let date = date.text();
            let date = date.get(..10).unwrap_or(&date).to_string();
            b.shared
                .block_on(async |br| br.set_date(selector, &date).await)
        },
    );
    engine.register_fn(
        "upload",
        |b: &mut BrowserApi, selector: &str, path: &str| -> Res<()> {
            let file = b.shared.readable_path(path)?;
            b.shared
                .block_on(async |br| br.upload(selector, &[file]).await)
        },
    );
    engine.register_fn(
        "upload",
        |b: &mut BrowserApi, selector: &str, paths: Array| -> Res<()> {
            if paths.is_empty() {
                return Err(Failure::system("script", "upload: the list of files is empty").into());
            }
            let mut files = Vec::new();
            for p in &paths {
                files.push(b.shared.readable_path(&p.to_string())?);
            }
            b.shared
                .block_on(async |br| br.upload(selector, &files).await)
        },
    );
    engine.register_fn(
        "download",
        |b: &mut BrowserApi, selector: &str| -> Res<String> {
            let file = b.shared.block_on(async |br| br.download(selector).await)?;
            Ok(b.shared.relative_to_work_dir(&file))
        },
    );
    engine.register_fn("answer_prompt", |b: &mut BrowserApi, answer: &str| {
        b.shared.block_on(async |br| br.answer_prompt(answer).await)
    });
    engine.register_fn("wait_for_value", |b: &mut BrowserApi, selector: &str| {
        b.shared
            .block_on(async |br| br.wait_for_value(selector).await)
    });
    engine.register_fn("wait_gone", |b: &mut BrowserApi, selector: &str| {
        b.shared.block_on(async |br| br.wait_gone(selector).await)
    });
    engine.register_fn(
        "table",
        |b: &mut BrowserApi, selector: &str| -> Res<Array> {
            let table = b.shared.block_on(async |br| br.table(selector).await)?;
            Ok(rows_to_array(table.rows))
        },
    );
    engine.register_fn(
        "table_pages",
        |b: &mut BrowserApi, selector: &str, next: &str, max_pages: INT| -> Res<Array> {
            let max = usize::try_from(max_pages.max(1)).unwrap_or(1);
            let (table, pages) = b
                .shared
                .block_on(async |br| br.table_pages(selector, next, max).await)?;
            if pages >= max {
                b.shared.log(&format!(
                    "table_pages stopped at the page limit of {max} pages"
                ));
            }
            Ok(rows_to_array(table.rows))
        },
    );
    engine.register_fn(
        "in_frame",
        |ctx: NativeCallContext, b: &mut BrowserApi, path: &str, body: FnPtr| -> Res<Dynamic> {
            let entered = b.shared.block_on(async |br| br.enter_frames(path).await)?;
            let result = body.call_within_context::<Dynamic>(&ctx, ());
            let left = b.shared.block_on(async |br| br.leave_frames(entered).await);
            let value = result?;
            left?;
            Ok(value)
        },
    );
    engine.register_fn(
        "in_frame",
        |ctx: NativeCallContext, b: &mut BrowserApi, index: INT, body: FnPtr| -> Res<Dynamic> {
            if index < 0 {
                return Err(Failure::system(
                    "script",
                    format!("in_frame: {index} is not a frame index (0 is the first)"),
                )
                .into());
            }
            let path = index.to_string();
            let entered = b.shared.block_on(async |br| br.enter_frames(&path).await)?;
            let result = body.call_within_context::<Dynamic>(&ctx, ());
            let left = b.shared.block_on(async |br| br.leave_frames(entered).await);
            let value = result?;
            left?;
            Ok(value)
        },
    );
    engine.register_fn(
        "in_window",
        |ctx: NativeCallContext, b: &mut BrowserApi, wanted: &str, body: FnPtr| -> Res<Dynamic> {
            let scope = b.shared.block_on_named("browser.in_window", async |br| {
                br.enter_window(wanted).await
            })?;
            let result = body.call_within_context::<Dynamic>(&ctx, ());
            let left = b.shared.block_on(async |br| br.leave_window(scope).await);
            let value = result?;
            left?;
            Ok(value)
        },
    );
    engine.register_fn("text", |b: &mut BrowserApi, selector: &str| {
        b.shared.block_on(async |br| br.text(selector).await)
    });
    engine.register_fn("text_if_present", |b: &mut BrowserApi, selector: &str| {
        b.shared
            .block_on(async |br| br.text_if_present(selector).await)
    });
    engine.register_fn("value", |b: &mut BrowserApi, selector: &str| {
        b.shared.block_on(async |br| br.value(selector).await)
    });
    engine.register_fn("exists", |b: &mut BrowserApi, selector: &str| {
        b.shared.block_on(async |br| br.exists(selector).await)
    });
    engine.register_fn("wait_for", |b: &mut BrowserApi, selector: &str| {
        b.shared.block_on(async |br| br.wait_for(selector).await)
    });
    engine.register_fn("wait_for_text", |b: &mut BrowserApi, text: &str| {
        b.shared.block_on(async |br| br.wait_for_text(text).await)
    });
    engine.register_fn("accept_dialog", |b: &mut BrowserApi| {
        b.shared.block_on(async |br| br.accept_dialog().await)
    });
    engine.register_fn("dismiss_dialog", |b: &mut BrowserApi| {
        b.shared.block_on(async |br| br.dismiss_dialog().await)
    });
    engine.register_fn("url", |b: &mut BrowserApi| {
        b.shared.block_on(async |br| br.url().await)
    });
    engine.register_fn("title", |b: &mut BrowserApi| {
        b.shared.block_on(async |br| br.title().await)
    });
    engine.register_fn(
        "screenshot",
        |b: &mut BrowserApi, name: &str| -> Res<String> {
            let (relative, full) = b.screenshot_path(name);
            b.shared.block_on(async |br| br.screenshot(&full).await)?;
            Ok(relative)
        },
    );
    engine.register_fn(
        "screenshot",
        |b: &mut BrowserApi, selector: &str, name: &str| -> Res<String> {
            let (relative, full) = b.screenshot_path(name);
            b.shared
                .block_on(async |br| br.screenshot_element(selector, &full).await)?;
            Ok(relative)
        },
    );
}

/// A JSON value from the page as a Rhai value: objects become maps, arrays arrays,
/// integers `INT`, other numbers `FLOAT`, `null` unit.
fn json_to_dynamic(value: serde_json::Value) -> Dynamic {
    use serde_json::Value;
    match value {
        Value::Null => Dynamic::UNIT,
        Value::Bool(b) => Dynamic::from(b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Dynamic::from(i as INT),
            None => Dynamic::from(n.as_f64().unwrap_or(f64::NAN) as rhai::FLOAT),
        },
        Value::String(s) => Dynamic::from(s),
        Value::Array(a) => Dynamic::from_array(a.into_iter().map(json_to_dynamic).collect()),
        Value::Object(o) => Dynamic::from_map(
            o.into_iter()
                .map(|(k, v)| (k.into(), json_to_dynamic(v)))
                .collect(),
        ),
    }
}

/// A Rhai value as a JSON argument for a page script (other types as their text).
fn dynamic_to_json(value: &Dynamic) -> serde_json::Value {
    use serde_json::{json, Value};
    if value.is_unit() {
        Value::Null
    } else if let Some(b) = value.clone().try_cast::<bool>() {
        json!(b)
    } else if let Some(i) = value.clone().try_cast::<INT>() {
        json!(i)
    } else if let Some(f) = value.clone().try_cast::<rhai::FLOAT>() {
        json!(f)
    } else if let Some(a) = value.read_lock::<Array>() {
        Value::Array(a.iter().map(dynamic_to_json).collect())
    } else if let Some(m) = value.read_lock::<Map>() {
        Value::Object(
            m.iter()
                .map(|(k, v)| (k.to_string(), dynamic_to_json(v)))
                .collect(),
        )
    } else {
        json!(value.to_string())
    }
}
