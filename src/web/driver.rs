//! Runs a [`Session`] in the browser: clock, timer, callback calls, wake-ups, output delivery.

use alloc::rc::{Rc, Weak};
use alloc::string::String;
use core::cell::{Cell, Ref, RefCell};

use alloc::boxed::Box;
use js_sys::Function;
use wasm_bindgen::prelude::*;

use super::bounded::bounded_record;
use super::channel::PeerChannel;
use super::clock::now;
use super::fetch::call_fetch_access_token;
use super::json::{to_js, BrowserJson};
use super::locks::RefreshLock;
use super::storage::TokenStore;
use super::timer::DeadlineTimer;
use super::wake::WakeListeners;
use crate::core::protocol::JsOutput;
use crate::core::{Config, LockGrant, Millis, Output, Session, Slot};

/// The cross-tab primitives, with the callbacks they hold into the driver.
struct Coordination {
    lock: RefreshLock,
    channel: PeerChannel,
    _on_granted: Closure<dyn FnMut(f64, bool)>,
    _on_lost: Closure<dyn FnMut(f64, bool)>,
    _on_message: Closure<dyn FnMut(JsValue)>,
}

pub struct Driver {
    session: RefCell<Session>,
    fetch_access_token: Function,
    on_output: Function,
    timer: RefCell<DeadlineTimer>,
    wake: RefCell<Option<WakeListeners>>,
    coordination: RefCell<Option<Coordination>>,
    store: Option<TokenStore>,
    /// Between `pagehide` and the page's return: wake-ups while it is still hidden do nothing.
    hidden: Cell<bool>,
    /// Set while outputs are being performed: re-entrant calls (a JS listener calling back in)
    /// leave their outputs queued for the running loop, so order is kept.
    pumping: Cell<bool>,
    this: Weak<Driver>,
}

impl Driver {
    /// `name`: the app's name, for its lock, channel and storage keys; `cross_tab`: coordinate
    /// with its other tabs (otherwise this tab works alone). `storage`: where to persist the
    /// token (see [`TokenStore::resolve`]). `early_lock`: the refresh lock taken before the
    /// session existed, for its first request (see `locks.js`), or `undefined`.
    pub fn new(
        mut config: Config,
        fetch_access_token: Function,
        on_output: Function,
        name: &str,
        cross_tab: bool,
        storage: &JsValue,
        early_lock: &JsValue,
    ) -> Rc<Driver> {
        let store = TokenStore::resolve(storage, name);
        config.cross_tab = cross_tab;
        config.persist = store.is_some();
        let driver = Rc::new_cyclic(|this: &Weak<Driver>| Driver {
            session: RefCell::new(Session::with_json(config, &BrowserJson)),
            fetch_access_token,
            on_output,
            timer: RefCell::default(),
            wake: RefCell::new(None),
            coordination: RefCell::new(None),
            store,
            hidden: Cell::new(false),
            pumping: Cell::new(false),
            this: this.clone(),
        });
        let (wake, hide) = (driver.this.clone(), driver.this.clone());
        *driver.wake.borrow_mut() = Some(WakeListeners::new(
            move || {
                if let Some(driver) = wake.upgrade() {
                    // After `pagehide`, the `visibilitychange` to hidden is no wake: asking for the
                    // lock again must wait until the page is back (`pageshow`).
                    let still_hidden = || driver.coordination.borrow().as_ref().is_some_and(|c| c.lock.is_page_hidden());
                    if driver.hidden.get() && still_hidden() {
                        return;
                    }
                    driver.hidden.set(false);
                    driver.with_session(|session, now| session.handle_wake(now));
                }
            },
            move || {
                // A hidden page (closing, or entering the back/forward cache) must not keep others
                // waiting; the session hears its locks are gone, so a restored page asks again.
                let Some(driver) = hide.upgrade() else { return };
                let released = match driver.coordination.try_borrow() {
                    Ok(coordination) => coordination.as_ref().map(|c| c.lock.release_all()).is_some(),
                    Err(_) => false,
                };
                if released {
                    driver.hidden.set(true);
                    driver.with_session(|session, now| session.handle_locks_released(now));
                }
            },
        ));
        if cross_tab {
            let coordination = driver.coordinate(name, early_lock);
            // The app's recorded sign-out comes first: no token from before it, not even one a
            // peer offered before the session existed, may sign this tab in.
            let recorded = coordination.channel.last_sign_out();
            if recorded > 0.0 {
                driver.session.borrow_mut().recall_sign_out(recorded as Millis);
            }
            *driver.coordination.borrow_mut() = Some(coordination);
        }
        driver
    }

    fn coordinate(&self, name: &str, early_lock: &JsValue) -> Coordination {
        let (granted, lost, message) = (self.this.clone(), self.this.clone(), self.this.clone());
        let on_granted = Closure::wrap(Box::new(move |id: f64, uncontended: bool| {
            let grant = if uncontended { LockGrant::Uncontended } else { LockGrant::MaybeContended };
            if let Some(driver) = granted.upgrade() {
                driver.with_session(|session, now| session.handle_lock_acquired(now, id as u64, grant));
            }
        }) as Box<dyn FnMut(f64, bool)>);
        // A grant taken away, or (`refused`) a request that failed before any grant.
        let on_lost = Closure::wrap(Box::new(move |id: f64, refused: bool| {
            if let Some(driver) = lost.upgrade() {
                driver.with_session(|session, now| match refused {
                    true => session.handle_lock_unavailable(now, id as u64),
                    false => session.handle_lock_lost(now, id as u64),
                });
            }
        }) as Box<dyn FnMut(f64, bool)>);
        let on_message = Closure::wrap(Box::new(move |text: JsValue| {
            if let Some(driver) = message.upgrade() {
                driver.peer_message(&text);
            }
        }) as Box<dyn FnMut(JsValue)>);
        Coordination {
            lock: RefreshLock::new(name, on_granted.as_ref().unchecked_ref(), on_lost.as_ref().unchecked_ref(), early_lock),
            channel: PeerChannel::new(name, on_message.as_ref().unchecked_ref()),
            _on_granted: on_granted,
            _on_lost: on_lost,
            _on_message: on_message,
        }
    }

    /// Starts the session: first the app's stored backoff and clock, then the token the page was
    /// rendered with, then a persisted token record when there is a store. (The recorded sign-out
    /// was recalled at construction, before any peer message heard early.)
    pub fn start(&self, initial_token: Option<String>) {
        for slot in Slot::ALL {
            let record = self.coordination.borrow().as_ref().and_then(|c| bounded_record(&c.channel.recall(slot.as_str())));
            if let Some(record) = record {
                self.with_session(|session, now| session.handle_peer_message(now, &record));
            }
        }
        // After the stored records: a shared clock skew decides whether the rendered token is fresh.
        if let Some(token) = initial_token {
            self.with_session(|session, now| session.offer_initial_token(now, &token));
        }
        let Some(store) = &self.store else {
            return self.with_session(|session, now| session.start(now));
        };
        let this = self.this.clone();
        store.read(move |record| {
            if let Some(driver) = this.upgrade() {
                if let Some(record) = record {
                    driver.with_session(|session, now| session.handle_peer_message(now, &record));
                }
                driver.with_session(|session, now| session.start(now));
            }
        });
    }

    /// See [`Session::backdate_fetch`]; it produces no outputs, so there is nothing to perform.
    pub fn backdate_fetch(&self, began_at: Millis) -> bool {
        self.session.borrow_mut().backdate_fetch(began_at)
    }

    /// A message from a peer (or one heard before the session existed), as received.
    pub fn peer_message(&self, text: &JsValue) {
        let text = bounded_record(text).unwrap_or_default();
        self.with_session(|session, now| session.handle_peer_message(now, &text));
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
        if let Some(coordination) = self.coordination.borrow_mut().take() {
            coordination.lock.release_all();
            coordination.channel.close();
        }
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
            Output::AcquireLock { lock, steal } => {
                if let Some(coordination) = self.coordination.borrow().as_ref() {
                    coordination.lock.acquire(lock as f64, steal);
                }
            }
            Output::ReleaseLock { lock } => {
                if let Some(coordination) = self.coordination.borrow().as_ref() {
                    coordination.lock.release(lock as f64);
                }
            }
            Output::Broadcast(text) => {
                if let Some(coordination) = self.coordination.borrow().as_ref() {
                    coordination.channel.post(&text);
                }
            }
            Output::Persist(record) => {
                if let Some(store) = &self.store {
                    store.write(record.as_deref());
                }
            }
            Output::RecordSignOut(at) => {
                if let Some(coordination) = self.coordination.borrow().as_ref() {
                    coordination.channel.record_sign_out(at as f64);
                }
            }
            Output::Remember { slot, record } => {
                if let Some(coordination) = self.coordination.borrow().as_ref() {
                    coordination.channel.remember(slot.as_str(), record.as_deref());
                }
            }
            ref message => {
                if let Some(message) = JsOutput::of(message) {
                    self.emit(&message);
                }
            }
        }
    }

    /// Hands JavaScript one output, an object of the `Output` union in `pkg/src/protocol.ts`
    /// (serde-wasm-bindgen; absent values as `null`, as the union spells them).
    fn emit(&self, message: &JsOutput) {
        let output = to_js(message);
        // A throwing JS handler must not break the session; the TypeScript face reports its own errors.
        let _ = self.on_output.call1(&JsValue::NULL, &output);
    }
}
