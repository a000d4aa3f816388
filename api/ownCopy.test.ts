// Which copy of a run a wait or a stream follows, as the shared watch lags, is away, or tells an
// earlier copy's news late.
import assert from "node:assert/strict";
import { type From, OwnCopy } from "./ownCopy.js";
import { runCopy as copy } from "./testkit.js";

const WATCH: From = { watched: true };
/** A re-check asked at `askedAt` (performance.now()). */
const recheck = (askedAt: number): From => ({ watched: false, askedAt });

describe("the copy of a run a wait follows", () => {
  it("passes over an earlier copy's news told late, before or after it follows its own, even from the same second", () => {
    for (const earlierAt of [0, 5]) {
      const copies = new OwnCopy();
      copies.changed(copy("earlier", earlierAt), WATCH);
      assert.equal(copies.deleted("earlier"), false);
      assert.equal(copies.follow(copy("own", 5)), false);
      copies.changed(copy("earlier", earlierAt), WATCH);
      assert.equal(copies.deleted("earlier"), false);
      assert.equal(copies.current?.metadata.uid, "own");
      assert.equal(copies.deleted("own"), true);
    }
  });

  it("knows at `follow` that the watch told its own copy's deletion before", () => {
    const copies = new OwnCopy();
    copies.changed(copy("own", 5), WATCH);
    assert.equal(copies.deleted("own"), false);
    assert.equal(copies.follow(copy("own", 5)), true);
  });

  it("follows a copy made in a later second, told before or after `follow`, by the watch or a re-check", () => {
    const before = new OwnCopy();
    before.changed(copy("later", 9), WATCH);
    assert.equal(before.follow(copy("own", 5)), false);
    assert.equal(before.deleted("own"), false);
    assert.equal(before.deleted("later"), true);
    const after = new OwnCopy();
    after.follow(copy("own", 5), 100);
    after.changed(copy("later", 9), recheck(50));
    assert.equal(after.deleted("later"), true);
  });

  it("follows a copy of the same second that the watch tells after its own, or a re-check asked after it shows", () => {
    const copies = new OwnCopy();
    copies.follow(copy("own", 5), 100);
    // A re-check asked before the copy followed was known may show an earlier copy.
    copies.changed(copy("other", 5), recheck(50));
    assert.equal(copies.current?.metadata.uid, "own");
    // Told by the watch, but before it told the copy followed: it may be the earlier copy's news.
    copies.changed(copy("other", 5), WATCH);
    assert.equal(copies.current?.metadata.uid, "own");
    // After it told the copy followed: only a later copy can come.
    copies.changed(copy("own", 5), WATCH);
    copies.changed(copy("later", 5), WATCH);
    assert.equal(copies.current?.metadata.uid, "later");
    assert.equal(copies.deleted("own"), false);
    assert.equal(copies.deleted("later"), true);
    // Asked after it was known, a re-check shows the cluster since then: another copy is later.
    const rechecked = new OwnCopy();
    rechecked.follow(copy("own", 5), 100);
    rechecked.changed(copy("later", 5), recheck(150));
    assert.equal(rechecked.current?.metadata.uid, "later");
  });

  it("keeps each outcome told before `follow`, and gives only the one of the copy it follows", () => {
    const copies = new OwnCopy();
    copies.changed(copy("earlier", 0, "Succeeded"), WATCH);
    copies.follow(copy("own", 5, "Running"));
    assert.equal(copies.outcomeToldBefore(), undefined);
    const finished = new OwnCopy();
    finished.changed(copy("earlier", 0, "Succeeded"), WATCH);
    finished.changed(copy("own", 5, "Failed"), recheck(50));
    finished.follow(copy("own", 5, "Running"), 100);
    assert.equal(finished.outcomeToldBefore()?.metadata.uid, "own");
  });

  it("weighs the watch's news before `follow` in its order", () => {
    const copies = new OwnCopy();
    copies.changed(copy("earlier", 5), WATCH);
    copies.changed(copy("own", 5), WATCH);
    copies.changed(copy("later", 5), WATCH);
    copies.follow(copy("own", 5));
    assert.equal(copies.current?.metadata.uid, "later");
  });
});
