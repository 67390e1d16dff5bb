// A small typed event emitter that runs in Node and in browsers. Unlike
// Node's EventEmitter, an 'error' with no listener is dropped, not thrown,
// and a listener that throws does not stop the others.

type Listener = (...args: never[]) => void;

/** Emits the events of E, a map from event name to listener signature. */
export class Emitter<E extends { [K in keyof E]: Listener }> {
  #listeners = new Map<keyof E, Set<E[keyof E]>>();

  /** Adds listener for event; returns a function that removes it. */
  on<K extends keyof E>(event: K, listener: E[K]): () => void {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(listener);
    return () => this.off(event, listener);
  }

  /** Adds listener for the next event only. */
  once<K extends keyof E>(event: K, listener: E[K]): () => void {
    const off = this.on(event, ((...args: Parameters<E[K]>) => {
      off();
      (listener as (...a: Parameters<E[K]>) => void)(...args);
    }) as E[K]);
    return off;
  }

  /** Removes listener from event. */
  off<K extends keyof E>(event: K, listener: E[K]): void {
    this.#listeners.get(event)?.delete(listener);
  }

  /** Reports whether event has listeners. */
  protected listenedTo(event: keyof E): boolean {
    return (this.#listeners.get(event)?.size ?? 0) > 0;
  }

  /** Calls the listeners of event; an exception in one is reported and does not stop the others. */
  protected emit<K extends keyof E>(event: K, ...args: Parameters<E[K]>): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as (...a: Parameters<E[K]>) => void)(...args);
      } catch (err) {
        queueMicrotask(() => {
          throw err; // surfaces as an uncaught exception, as in an event listener
        });
      }
    }
  }
}
