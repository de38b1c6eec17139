// A value with the Svelte store contract: subscribe(run) calls run at once and on every change,
// and returns the unsubscribe function. React reads it through useSyncExternalStore (get is the
// snapshot), Svelte as `$value`, plain DOM code by subscribing a render function.
export function createObservable(value) {
  const listeners = new Set();
  return {
    get: () => value,
    set(next) {
      if (Object.is(next, value)) return;
      value = next;
      for (const run of [...listeners]) run(value);
    },
    subscribe(run) {
      listeners.add(run);
      run(value);
      return () => {
        listeners.delete(run);
      };
    },
  };
}
