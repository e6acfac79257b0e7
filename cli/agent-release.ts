import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { AgentRelease, AgentReleaseList, AgentVersion, RELEASE_HEADER, releaseKey, signRelease, TargetName, type ReleaseSubject } from '../shared/agent-release.js';
import { opt } from '../shared/config.js';
import { defineCommand, defineGroup } from '../shared/command.js';
import { ConfigError, errorMessage } from '../shared/errors.js';
import { ApiError } from '../shared/api.js';
import { readPrivateKey } from '../shared/signing-keys.js';
import { BuildRelease } from '../firmware-targets/release-info.js';
import { sha256File } from '../shared/sha256-file.js';
import { apiOptions } from './api-options.js';
import { ApiClient } from './api-client.js';

/** The build's release.json for PATH: a built target's folder (dist/targets/<target>) or a tarball in it. */
function readBuildRelease(path: string): { dir: string; info: BuildRelease } {
  const dir = existsSync(path) && statSync(path).isDirectory() ? path : dirname(path);
  const file = join(dir, 'release.json');
  let info: BuildRelease;
  try {
    info = BuildRelease.parse(JSON.parse(readFileSync(file, 'utf8')));
  } catch (err) {
    throw new ConfigError(`agent-release push: ${file}: ${errorMessage(err)} (build the target first: npm run build:targets -- TARGET)`);
  }
  return { dir, info };
}

/** What `agent-release push` uploads: the tarball PATH names (or the target's full one; `--bundle` its bundle). */
async function releaseSubject(path: string, version: string, target: string | undefined, bundle: boolean): Promise<{ file: string; subject: ReleaseSubject }> {
  const { dir, info } = readBuildRelease(path);
  if (target && target !== info.target) throw new ConfigError(`agent-release push: --target ${target}, but ${dir} holds a ${info.target} build`);
  const named = dir === path ? undefined : basename(path);
  const kind = bundle || (info.bundle && named === info.bundle.file) ? 'bundle' : 'full';
  const tarball = kind === 'bundle' ? info.bundle : info.full;
  if (!tarball) throw new ConfigError(`agent-release push: ${info.target} has no bundle-only artifact (only runtime-tree targets do)`);
  if (named && named !== tarball.file) throw new ConfigError(`agent-release push: ${path} is not the build's ${kind} tarball (${tarball.file})`);
  const file = join(dir, tarball.file);
  const subject: ReleaseSubject = {
    target: info.target,
    version,
    sha256: await sha256File(file),
    size: statSync(file).size,
    kind,
    ...(info.runtime ? { runtime: info.runtime } : {}),
    installBytes: tarball.installBytes,
  };
  return { file, subject };
}

const pushCommand = defineCommand(
  {
    command: 'agent-release push',
    summary: 'upload a built agent (dist/targets/<target>) as release VERSION of its target, signed',
    usage: 'flotilla agent-release push PATH --version V [--target T] [--bundle] [--sign NAME.key] [--api URL] [--api-token T]',
    details: 'PATH is a built target (dist/targets/linux-arm64) or its tarball. --bundle (runtime-tree targets): only the agent bundle, for devices whose runtime is the same.',
    options: {
      version: { schema: AgentVersion, required: true, description: 'the release version devices will report (agentVersion)' },
      target: { schema: TargetName, description: "the build's target (checked against PATH's release.json)" },
      bundle: { schema: opt.bool, flag: true, default: false, description: 'runtime-tree targets: upload the agent bundle without the runtime tree' },
      sign: { schema: opt.string, description: 'sign with this private key (flotilla keys generate); devices with --trust install only signed releases' },
      ...apiOptions,
    },
    argument: 'PATH',
  },
  async (v, { argument: path }) => {
    const { file, subject } = await releaseSubject(path, v.version, v.target, v.bundle);
    const signature = v.sign ? signRelease(subject, readPrivateKey(v.sign)) : undefined;
    const url = new URL(`/api/v1/agent-releases/${encodeURIComponent(subject.target)}/${encodeURIComponent(subject.version)}`, v.api);
    const res = await fetch(url, {
      method: 'PUT',
      headers: {
        'content-type': 'application/octet-stream',
        'content-length': String(subject.size),
        [RELEASE_HEADER]: JSON.stringify({ ...subject, target: undefined, version: undefined, ...(signature ? { signature } : {}) }),
        ...(v['api-token'] ? { authorization: `Bearer ${v['api-token']}` } : {}),
      },
      // Streamed: an artifact is tens of MB.
      body: Readable.toWeb(createReadStream(file)) as unknown as RequestInit['body'],
      duplex: 'half',
    } as RequestInit);
    const json: unknown = await res.json().catch(() => undefined);
    if (!res.ok) {
      const err = ApiError.safeParse(json);
      throw new Error(`PUT ${url.pathname}: HTTP ${res.status}${err.success ? `: ${err.data.error.message}` : ''}`);
    }
    const release = AgentRelease.parse(json);
    console.log(`${releaseKey(release.target, release.version)} ${release.kind} sha256 ${release.sha256} (${release.size} bytes${release.signature ? `, key id ${release.signature.keyId}` : ', unsigned'})`);
    return 0;
  },
);

const listCommand = defineCommand(
  {
    command: 'agent-release list',
    summary: "list a coordinator's agent releases",
    options: { json: { schema: opt.bool, flag: true, default: false, description: 'print the JSON answer' }, ...apiOptions },
  },
  async (v) => {
    const { releases } = await new ApiClient(v.api, v['api-token']).agentReleases();
    if (v.json) console.log(JSON.stringify({ releases } satisfies AgentReleaseList, null, 2));
    else for (const r of releases) console.log(`${releaseKey(r.target, r.version).padEnd(32)} ${r.kind.padEnd(6)} ${String(r.size).padStart(10)} ${r.sha256.slice(0, 12)} ${r.signature ? `key ${r.signature.keyId}` : 'unsigned'}`);
    return 0;
  },
);

export const agentReleaseCommand = defineGroup('agent-release', 'upload and list agent releases (over-the-air agent updates)', [pushCommand, listCommand]);
