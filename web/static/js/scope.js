// A view's lifetime: timers and listeners registered here stop when the view is left.

export class Scope {
  constructor() {
    this.disposers = [];
    this.disposed = false;
  }

  every(ms, fn) {
    const id = setInterval(fn, ms);
    this.disposers.push(() => clearInterval(id));
    return id;
  }

  after(ms, fn) {
    const id = setTimeout(fn, ms);
    this.disposers.push(() => clearTimeout(id));
    return id;
  }

  listen(target, type, fn, options) {
    target.addEventListener(type, fn, options);
    this.disposers.push(() => target.removeEventListener(type, fn, options));
  }

  onDispose(fn) {
    this.disposers.push(fn);
  }

  dispose() {
    this.disposed = true;
    for (const fn of this.disposers.splice(0).reverse()) {
      try {
        fn();
      } catch (err) {
        console.warn('dispose failed', err);
      }
    }
  }
}
