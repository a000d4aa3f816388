import assert from "node:assert/strict";
import { Agent } from "node:https";
import { HttpMethod, KubeConfig, RequestContext } from "@kubernetes/client-node";
import { reuseConnections } from "./kube.js";

const b64 = (text: string) => Buffer.from(text).toString("base64");

function config(cert = "cert-1", proxyUrl?: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "c", server: "https://127.0.0.1:6443", caData: b64("ca"), skipTLSVerify: false, ...(proxyUrl ? { proxyUrl } : {}) }],
    users: [{ name: "u", certData: b64(cert), keyData: b64("key") }],
    contexts: [{ name: "x", cluster: "c", user: "u" }],
    currentContext: "x",
  });
  return kc;
}

async function agentOf(kc: KubeConfig): Promise<unknown> {
  const context = new RequestContext("https://127.0.0.1:6443/api", HttpMethod.GET);
  await kc.applySecurityAuthentication(context);
  return context.getAgent();
}

describe("reusing connections to the apiserver", () => {
  it("gives every request one keep-alive agent, with the cluster's TLS options", async () => {
    const kc = config();
    assert.notEqual(await agentOf(kc), await agentOf(kc), "client-node alone makes an agent per request");
    reuseConnections(kc);
    const [first, second] = [await agentOf(kc), await agentOf(kc)];
    assert.equal(first, second);
    assert.ok(first instanceof Agent);
    assert.equal(first.options.keepAlive, true);
    assert.equal(String(first.options.cert), "cert-1");
    assert.equal(String(first.options.ca), "ca");
  });

  it("makes a new agent when the TLS options change (a rotated certificate)", async () => {
    const kc = reuseConnections(config("cert-1"));
    const before = await agentOf(kc);
    kc.users[0] = { ...kc.users[0]!, certData: b64("cert-2") };
    const after = await agentOf(kc);
    assert.notEqual(after, before);
    assert.equal(String((after as Agent).options.cert), "cert-2");
  });

  it("leaves a proxy's agent as client-node made it", async () => {
    const kc = reuseConnections(config("cert-1", "http://127.0.0.1:3128"));
    const agent = await agentOf(kc);
    assert.notEqual(agent?.constructor, Agent);
    assert.notEqual(await agentOf(kc), agent);
  });
});
