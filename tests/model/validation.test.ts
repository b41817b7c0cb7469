import { describe, expect, it } from 'vitest';
import { formatProblem, parsePlatform } from '../../model/index.js';
import { edit, exampleText, lineOf } from '../helpers.js';
import { problems, only } from './problems.js';

const base = exampleText();

describe('the example model', () => {
  it('is valid and frozen', () => {
    const p = parsePlatform(base);
    expect(p.domain).toBe('davidcockson.com');
    expect(Object.isFrozen(p.services)).toBe(true);
    expect(p.routing.providers.anthropic.defaultMaxTokens).toBe(8192);
  });
});

describe('structural problems are located', () => {
  it('wrong type', () => {
    const text = edit(base, 'concurrency: 2', 'concurrency: two');
    const p = only(text);
    expect(p).toMatchObject({ file: 'platform.yaml', line: lineOf(text, 'concurrency: two'), col: 18, path: 'vault.worker.concurrency' });
    expect(p.message).toBe('expected number, found "two"');
    expect(p.fix).toBe('write a number here');
  });

  it('unknown key with a did-you-mean', () => {
    const text = edit(base, 'protocol: tcp', 'protocl: tcp', 'dev-learning:');
    const list = problems(text);
    const typo = list.find((p) => p.message.startsWith('unknown key'))!;
    const line = lineOf(text, 'protocl: tcp');
    expect(typo).toMatchObject({ line, col: 11, path: 'hosts.dev-learning.firewall.inbound.0.protocl', message: 'unknown key "protocl"' });
    expect(typo.fix).toContain('did you mean "protocol"?');
    // The same typo leaves protocol missing: reported on the same rule, in the same run.
    expect(list.find((p) => p.message.includes('missing required key "protocol"'))?.path).toBe('hosts.dev-learning.firewall.inbound.0');
  });

  it('enum value with a suggestion', () => {
    const text = edit(base, 'kind: vps', 'kind: vsp');
    const p = only(text);
    expect(p).toMatchObject({ line: lineOf(text, 'kind: vsp'), col: 11, path: 'hosts.contabo.kind' });
    expect(p.fix).toContain('did you mean "vps"?');
  });

  it('a bad discriminator names the allowed kinds', () => {
    const text = edit(base, 'kind: syncthing', 'kind: syncthink');
    const p = only(text);
    expect(p.path).toBe('hosts.contabo.hostServices.syncthing.kind');
    expect(p.fix).toContain('did you mean "syncthing"?');
  });

  it('YAML syntax errors carry a position', () => {
    const text = edit(base, 'env: prod\n', 'env: [prod\n');
    const p = problems(text)[0]!;
    expect(p.line).toBeGreaterThan(1);
    expect(p.message).toMatch(/^YAML syntax error/);
  });

  it('a duplicate mapping key is a located problem', () => {
    const text = edit(base, '  prometheus:\n    host: dev-learning', '  grafana:\n    host: dev-learning');
    const p = only(text);
    // The second definition is the one reported.
    expect(p.line).toBe(lineOf(text, '  grafana:', 'image: prom/prometheus'));
    expect(p.message).toContain('defined twice');
  });

  it('invalid CIDR, port range and bucket name', () => {
    let text = edit(base, 'sources: [0.0.0.0/0]', 'sources: [0.0.0.0/33]');
    text = edit(text, 'ports: "80-443"', 'ports: "443-80"');
    text = edit(text, 'name: davidcockson-artifacts', 'name: Davidcockson_Artifacts');
    const paths = problems(text).map((p) => p.path);
    expect(paths).toEqual([
      'aws.buckets.artifacts.name',
      'hosts.contabo.firewall.inbound.0.sources.0',
      'hosts.prod-services.firewall.inbound.1.ports',
    ]);
  });
});

describe('secret values where a secret name belongs', () => {
  it('an API key pasted into apiKeySecret', () => {
    const text = edit(base, 'apiKeySecret: GROQ_API_KEY', 'apiKeySecret: gsk_9fQx2LmZ8pWc4RtY7uBn3KdE');
    const p = only(text);
    expect(p).toMatchObject({ line: lineOf(text, 'apiKeySecret: gsk_'), col: 21, path: 'routing.providers.groq.apiKeySecret' });
    expect(p.message).toContain('looks like a secret value (a Groq API key)');
    expect(p.fix).toContain('write its name here');
  });

  it('a token in a secrets list and in env', () => {
    let text = edit(base, 'secrets: [NEO4J_PASSWORD]', 'secrets: [sk-ant-api03-Zx8Qw2Er4Ty6Ui8Op0As2Df4]');
    text = edit(
      text,
      'NEO4J_server_memory_heap_max__size: 1G',
      'NEO4J_server_memory_heap_max__size: 1G, TOKEN: "q7Rk2LmX9vB4nZ8wT3yH6pJ1sD5fG0aC"',
    );
    const list = problems(text);
    expect(list.map((p) => p.path)).toEqual(['services.rag.secrets.0', 'services.neo4j.env.TOKEN']);
    expect(list[1]!.fix).toContain('list its name under the service\'s "secrets"');
  });
});

describe('cross-reference problems are located', () => {
  it('a service on an unknown host', () => {
    const text = edit(base, 'host: contabo\n', 'host: contabo2\n', '  mcp:');
    const p = only(text);
    expect(p).toMatchObject({ line: lineOf(text, 'host: contabo2'), col: 11, path: 'services.mcp.host' });
    expect(p.message).toBe('service "mcp" is placed on unknown host "contabo2"');
    expect(p.fix).toContain('did you mean "contabo"?');
  });

  it('depends_on an unknown service', () => {
    const text = edit(base, 'dependsOn: { qdrant: healthy, neo4j: healthy }', 'dependsOn: { qdrant: healthy, neo4: healthy }');
    const p = only(text);
    expect(p).toMatchObject({ line: lineOf(text, 'neo4: healthy'), path: 'services.rag.dependsOn.neo4' });
    expect(p.col).toBe(lineOf(text, 'neo4: healthy') && text.split('\n')[lineOf(text, 'neo4: healthy') - 1]!.indexOf('neo4:') + 1);
    expect(p.fix).toContain('did you mean "neo4j"?');
  });

  it('a depends_on cycle', () => {
    const text = edit(base, '    image: qdrant/qdrant:v1.19.0\n', '    image: qdrant/qdrant:v1.19.0\n    dependsOn: { web: started }\n');
    const p = only(text);
    expect(p.message).toBe('depends_on forms a cycle: qdrant -> web -> rag -> qdrant');
    expect(p.path).toBe('services.qdrant.dependsOn.web');
    expect(p.line).toBe(lineOf(text, 'dependsOn: { web: started }'));
  });

  it('two services on one host publishing the same port', () => {
    const text = edit(
      base,
      '    ports: [{ name: http, port: 9000 }]\n',
      '    ports: [{ name: http, port: 9000 }]\n    publish: [{ port: 9000, hostPort: 80 }]\n',
    );
    const p = only(text);
    // Model order decides who keeps the port: portainer comes first, so nginx is reported.
    expect(p).toMatchObject({ path: 'services.nginx.publish.0.hostPort', line: lineOf(text, 'hostPort: 80,', '  nginx:') });
    expect(p.message).toBe('host port 80 on "prod-services" is already taken by service "portainer"');
  });

  it('a public hostname outside the zone, and one pointing at an unknown service', () => {
    let text = edit(base, 'hostname: control.davidcockson.com', 'hostname: control.example.org');
    text = edit(text, 'target: web', 'target: webb');
    const list = problems(text);
    expect(list.map((p) => [p.path, p.line])).toEqual([
      ['cloudflare.hostnames.0.hostname', lineOf(text, 'control.example.org')],
      ['cloudflare.hostnames.0.target', lineOf(text, 'target: webb')],
    ]);
    expect(list[0]!.fix).toBe('use a name ending in ".davidcockson.com"');
    expect(list[1]!.fix).toContain('did you mean "web"?');
  });

  it('a routing entry whose host runs no Ollama', () => {
    const text = edit(base, 'host: davas\n      label', 'host: dev-learning\n      label');
    const p = only(text);
    expect(p).toMatchObject({ path: 'routing.models.1.host', line: lineOf(text, 'host: dev-learning', '- id: gemma4:27b') });
    expect(p.message).toBe('model "gemma4:27b" is routed to "dev-learning", which runs no Ollama');
    expect(p.fix).toContain('contabo, davas');
  });

  it('duplicate names: a routed model id and an identity', () => {
    let text = edit(base, '- id: qwen/qwen3-32b', '- id: llama-3.3-70b-versatile');
    text = edit(text, 'name: homelab-prod', 'name: contabo-prod');
    const list = problems(text);
    expect(list.map((p) => p.message)).toEqual([
      'identity "contabo-prod" is defined twice',
      'model id "llama-3.3-70b-versatile" is routed twice',
    ]);
  });

  it('a firewall that would lock out SSH, and a host without an address', () => {
    let text = edit(base, 'ports: "22"', 'ports: "2222"', 'davas:\n    kind: gpu');
    text = edit(text, '    addresses:\n      tailnet: 100.101.30.1\n', '');
    const list = problems(text);
    expect(list.map((p) => p.path)).toEqual(['hosts.dev-learning', 'hosts.davas.firewall']);
    expect(list[0]!.line).toBe(lineOf(text, '  dev-learning:'));
    expect(list[1]!.message).toContain('would lock out');
  });

  it('the runtime slice takes its ports and vault mount from the model, so they must be there', () => {
    let text = edit(base, '    ports: [{ name: http, port: 8001 }]\n', '', '  mcp:');
    text = edit(text, '      - { type: vault, target: /vault }\n', '', '  worker:');
    text = edit(text, 'ports: [{ name: bolt, port: 7687 }, { name: http, port: 7474 }]', 'ports: [{ name: http, port: 7474 }]');
    const list = problems(text);
    expect(list.map((p) => [p.path, p.line, p.message])).toEqual([
      ['services.worker.volumes', lineOf(text, 'volumes:', '  worker:'), 'the worker does not mount the vault, which holds its queue'],
      ['services.mcp.ports', lineOf(text, '  mcp:'), 'service "mcp" lists no port, so the runtime cannot be told where to reach it'],
      [
        'services.neo4j.ports',
        lineOf(text, 'ports: [{ name: http, port: 7474 }]'),
        'neo4j has no port named "bolt", which the runtime connects to',
      ],
    ]);
    expect(list[1]!.fix).toBe('add ports: [{ name: http, port: <port> }] to services.mcp');
  });

  it('Gemini ids keep the models/ prefix', () => {
    const text = edit(base, '- id: models/gemini-2.5-flash', '- id: gemini-2.5-flash');
    expect(only(text).fix).toBe('write "models/gemini-2.5-flash"');
  });

  it('reports every problem at once, in file order', () => {
    let text = edit(base, 'host: contabo\n', 'host: nowhere\n', '  rag:');
    text = edit(text, 'target: web', 'target: nothing');
    text = edit(text, 'default: qwen2.5:14b', 'default: qwen9');
    const list = problems(text);
    expect(list.map((p) => p.path)).toEqual(['cloudflare.hostnames.0.target', 'services.rag.host', 'routing.default']);
    const lines = list.map((p) => p.line);
    expect([...lines].sort((a, b) => a - b)).toEqual(lines);
  });

  it('formats problems as file:line:col path: message, then the fix', () => {
    const text = edit(base, 'host: contabo\n', 'host: contabo2\n', '  mcp:');
    try {
      parsePlatform(text, 'platform.yaml');
    } catch (e) {
      const line = lineOf(text, 'host: contabo2');
      expect((e as Error).message).toBe(
        `platform.yaml: 1 problem\nplatform.yaml:${line}:11 services.mcp.host: service "mcp" is placed on unknown host "contabo2"\n    fix: did you mean "contabo"? allowed: "contabo", "prod-services", "dev-learning", "davas"`,
      );
      return;
    }
    throw new Error('expected an error');
  });
});

describe('edge wiring', () => {
  it('the tunnel connector must receive the tunnel token secret', () => {
    const text = edit(base, 'secrets: [TUNNEL_TOKEN]', 'secrets: [CF_TOKEN]');
    const p = only(text);
    expect(p).toMatchObject({ path: 'cloudflare.tunnel.connector', line: lineOf(text, 'connector: cloudflared') });
    expect(p.fix).toBe('add "TUNNEL_TOKEN" to services.cloudflared.secrets (cloudflared reads TUNNEL_TOKEN)');
  });

  it('the control panel behind Access names where its audience tag goes, and web receives it', () => {
    const noSecret = edit(base, '        audienceSecret: CF_ACCESS_AUD\n', '');
    const p = only(noSecret);
    expect(p).toMatchObject({
      file: 'platform.yaml',
      path: 'cloudflare.hostnames.0.access',
      line: lineOf(noSecret, 'access:', 'control.davidcockson.com'),
    });
    expect(p.fix).toBe('add "audienceSecret: CF_ACCESS_AUD" (the edge stack writes the tag there) and list it under services.web.secrets');

    const notListed = edit(base, 'DISCORD_WEBHOOK_URL, CF_ACCESS_AUD]', 'DISCORD_WEBHOOK_URL]');
    const q = only(notListed);
    expect(q).toMatchObject({
      path: 'cloudflare.hostnames.0.access.audienceSecret',
      line: lineOf(notListed, 'audienceSecret: CF_ACCESS_AUD'),
      col: 25,
    });
    expect(q.fix).toBe('add "CF_ACCESS_AUD" to services.web.secrets');
  });

  it('the control panel behind Access needs the Access team', () => {
    const text = edit(base, '  access:\n    teamDomain: davidcockson.cloudflareaccess.com\n', '');
    const p = only(text);
    expect(p).toMatchObject({ path: 'cloudflare', line: lineOf(text, 'cloudflare:') });
    expect(p.fix).toBe('add "access: { teamDomain: <team>.cloudflareaccess.com }" under cloudflare');
    const wrong = edit(base, 'teamDomain: davidcockson.cloudflareaccess.com', 'teamDomain: davidcockson.com');
    expect(only(wrong)).toMatchObject({ path: 'cloudflare.access.teamDomain', line: lineOf(wrong, 'teamDomain: davidcockson.com') });
  });

  it('a public hostname cannot point at a compose service on a host the connector does not run on', () => {
    // cloudflared runs on contabo; gitea runs on prod-services, so `http://gitea:3000` resolves to nothing.
    const text = edit(base, '  hostnames:\n', '  hostnames:\n    - hostname: git.davidcockson.com\n      target: gitea\n');
    const p = only(text);
    const line = lineOf(text, 'target: gitea');
    expect(p).toMatchObject({ file: 'platform.yaml', line, col: 15, path: 'cloudflare.hostnames.0.target' });
    expect(formatProblem(p)).toBe(
      `platform.yaml:${line}:15 cloudflare.hostnames.0.target: hostname "git.davidcockson.com" points at service "gitea" on "prod-services", but the tunnel connector "cloudflared" runs on "contabo" and reaches compose services on its own host only\n` +
        '    fix: place "gitea" on "contabo", or point the hostname at a service on "contabo" or at a host service as "<host>/<service>"',
    );
  });

  it('a host service on another host stays a valid target (reached over the tailnet)', () => {
    expect(() => parsePlatform(base)).not.toThrow();
    expect(base).toContain('target: davas/ollama');
  });
});

describe('the vault owner and the runtime image', () => {
  it('defaults the vault owner when the model leaves it out', () => {
    const p = parsePlatform(edit(base, '  owner: { user: syncthing, uid: 1000, gid: 1000 }\n', ''));
    expect(p.vault.owner).toEqual({ user: 'syncthing', uid: 1000, gid: 1000 });
  });

  it('refuses root as the vault owner: the runtime containers run as it', () => {
    const text = edit(base, 'uid: 1000, gid: 1000', 'uid: 0, gid: 1000');
    const p = only(text);
    expect(p.path).toBe('vault.owner.uid');
    expect(p.message).toMatch(/found number 0/);
  });

  it('a runtime service needs the model to name the runtime image', () => {
    const text = base.slice(0, base.indexOf("\n# The runtime's image:")) + '\n';
    const list = problems(text);
    expect(list.map((p) => p.path).sort()).toEqual([
      'services.mcp.runtime',
      'services.rag.runtime',
      'services.web.runtime',
      'services.worker.runtime',
    ]);
    expect(list[0]!.fix).toContain('runtimeImage:');
  });

  it('a service runs exactly one of an image, a build or the runtime', () => {
    const text = edit(base, '    runtime: true\n', '    runtime: true\n    image: busybox:1\n', '  worker:');
    expect(only(text).message).toContain('exactly one of "image", "build" or "runtime: true"');
  });

  it('checks the image repository and tag', () => {
    const list = problems(
      edit(edit(base, 'repository: davidcockson/platform-runtime', 'repository: Davidcockson/Runtime'), 'tag: 0.1.0', 'tag: "0.1.0 final"'),
    );
    expect(list.map((p) => p.path).sort()).toEqual(['runtimeImage.repository', 'runtimeImage.tag']);
  });
});
