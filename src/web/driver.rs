//! Runs a [`Session`] in the browser: clock, timer, callback calls, wake-ups, output delivery.

use alloc::rc::{Rc, Weak};
use alloc::string::String;
use core::cell::{Cell, Ref, RefCell};

use js_sys::{Array, Function, Uint32Array};
use wasm_bindgen::prelude::*;

use super::clock::now;
use super::fetch::call_fetch_access_token;
use super::timer::DeadlineTimer;
use super::wake::WakeListeners;
use crate::core::{AuthError, Config, Millis, Output, Session, Trace, TraceKind};

pub struct Driver {
    session: RefCell<Session>,
    fetch_access_token: Function,
    on_output: Function,
    timer: RefCell<DeadlineTimer>,
    wake: RefCell<Option<WakeListeners>>,
    /// Set while outputs are being performed: re-entrant calls (a JS listener calling back in)
    /// leave their outputs queued for the running loop, so order is kept.
    pumping: Cell<bool>,
    this: Weak<Driver>,
}

impl Driver {
    pub fn new(config: Config, fetch_access_token: Function, on_output: Function) -> Rc<Driver> {
        let driver = Rc::new_cyclic(|this: &Weak<Driver>| Driver {
            session: RefCell::new(Session::new(config)),
            fetch_access_token,
            on_output,
            timer: RefCell::default(),
            wake: RefCell::new(None),
            pumping: Cell::new(false),
            this: this.clone(),
        });
        let this = driver.this.clone();
        *driver.wake.borrow_mut() = Some(WakeListeners::new(move || {
            if let Some(driver) = this.upgrade() {
                driver.with_session(|session, now| session.handle_wake(now));
            }
        }));
        driver
    }

    /// Runs one input or mutator against the session, then performs what it produced.
    pub fn with_session<R>(&self, input: impl FnOnce(&mut Session, Millis) -> R) -> R {
        let result = input(&mut self.session.borrow_mut(), now());
        self.pump();
        result
    }

    /// Read-only access for getters.
    pub fn session(&self) -> Ref<'_, Session> {
        self.session.borrow()
    }

    /// Stops timers and listeners for good.
    pub fn shut_down(&self) {
        self.with_session(|session, _| session.dispose());
        self.timer.borrow_mut().cancel();
        self.wake.borrow_mut().take();
    }

    fn pump(&self) {
        if self.pumping.replace(true) {
            return;
        }
        loop {
            let next = self.session.borrow_mut().poll();
            match next {
                Some(output) => self.perform(output),
                None => break,
            }
        }
        self.pumping.set(false);
        self.rearm();
    }

    fn rearm(&self) {
        let deadline = self.session.borrow().poll_timeout();
        let this = self.this.clone();
        self.timer.borrow_mut().arm(now(), deadline, move || {
            if let Some(driver) = this.upgrade() {
                driver.timer.borrow_mut().fired();
                driver.with_session(|session, now| session.handle_timeout(now));
            }
        });
    }

    fn perform(&self, output: Output) {
        match output {
            Output::FetchToken { fetch, force_refresh } => {
                let this = self.this.clone();
                call_fetch_access_token(&self.fetch_access_token, force_refresh, move |outcome| {
                    if let Some(driver) = this.upgrade() {
                        driver.with_session(|session, now| session.handle_fetch_result(now, fetch, outcome));
                    }
                });
            }
            Output::ResolveToken { waiter, result } => match result {
                Ok(Some((generation, token))) => {
                    self.emit(&["token".into(), waiter.into(), token.into(), (generation as f64).into()])
                }
                Ok(None) => self.emit(&["token".into(), waiter.into(), JsValue::NULL, 0.into()]),
                Err(error) => {
                    let [code, detail] = error_values(Some(error));
                    self.emit(&["token_error".into(), waiter.into(), code, detail])
                }
            },
            Output::ReleaseOperations(ops) => self.emit(&["release".into(), Uint32Array::from(&ops[..]).into()]),
            Output::RejectOperations(ops, error) => {
                let [code, detail] = error_values(Some(error));
                self.emit(&["reject".into(), Uint32Array::from(&ops[..]).into(), code, detail])
            }
            Output::TokenChanged { generation } => self.emit(&["token_changed".into(), (generation as f64).into()]),
            Output::StateChanged { state, error } => {
                let [code, detail] = error_values(error);
                self.emit(&["state".into(), state.as_str().into(), code, detail])
            }
            Output::Trace(trace) => self.emit_trace(trace),
        }
    }

    fn emit_trace(&self, trace: Trace) {
        let detail: JsValue = match trace.kind {
            TraceKind::FetchStarted(reason, force) => {
                let mut text = String::from(reason.as_str());
                if force {
                    text.push_str(",forced");
                }
                text.into()
            }
            _ => JsValue::NULL,
        };
        let [code, _] = error_values(trace.error);
        self.emit(&[
            "trace".into(),
            trace.kind.as_str().into(),
            trace.token_tail.map_or(JsValue::NULL, JsValue::from),
            trace.millis.map_or(JsValue::NULL, |ms| (ms as f64).into()),
            code,
            detail,
        ]);
    }

    fn emit(&self, values: &[JsValue]) {
        let args: Array = values.iter().collect();
        // A throwing JS handler must not break the session; the TypeScript face reports its own errors.
        let _ = self.on_output.apply(&JsValue::NULL, &args);
    }
}

fn error_values(error: Option<AuthError>) -> [JsValue; 2] {
    match error {
        Some(error) => [error.code.as_str().into(), error.detail.into()],
        None => [JsValue::NULL, JsValue::NULL],
    }
}
