import type { Platform } from '../schema.js';
import { problems, type RawProblem } from './problems.js';

/* mcp: the sandbox privileges, the tool server's token and the folders its vault tools may write. */
export function checkMcp(p: Platform): RawProblem[] {
  const { list, add } = problems();
  for (const [name, s] of Object.entries(p.services)) {
    if (s.sandbox && s.command?.[0] !== 'mcp') {
      add(
        ['services', name, 'sandbox'],
        `service "${name}" asks for sandbox privileges, but only the MCP tool server (command [mcp]) runs untrusted code`,
        'remove "sandbox" from this service',
      );
    }
  }
  const mcpSvc = p.services.mcp;
  if (mcpSvc && mcpSvc.sandbox !== 'bubblewrap') {
    add(
      ['services', 'mcp', 'sandbox'],
      'the MCP tool server runs run_code under bubblewrap, which needs "sandbox: bubblewrap" to create its namespaces in the container',
      'add "sandbox: bubblewrap" to services.mcp',
    );
  }
  for (const svc of ['mcp', 'worker'] as const) {
    const s = p.services[svc];
    if (s && !s.secrets.includes(p.mcp.authTokenSecret)) {
      add(
        ['services', svc, 'secrets'],
        `service "${svc}" does not get the MCP bearer token "${p.mcp.authTokenSecret}"`,
        `add "${p.mcp.authTokenSecret}" to services.${svc}.secrets (the ${svc === 'mcp' ? 'server checks it' : 'research client presents it'})`,
      );
    }
  }
  const queueFolders = [p.vault.folders.queue, p.vault.folders.active, p.vault.folders.completed, p.vault.folders.failed];
  p.mcp.vault.writableFolders.forEach((f, i) => {
    const hit = queueFolders.find((q) => f === q || f.startsWith(`${q}/`) || q.startsWith(`${f}/`));
    if (hit !== undefined)
      add(
        ['mcp', 'vault', 'writableFolders', i],
        `"${f}" overlaps the queue folder "${hit}": jobs enter the queue only through submit_job`,
        'choose a folder outside the queue folders',
      );
  });
  return list;
}
