export const SHORTCUTS: [string, string][] = [
  ['Enter', 'send the message (Shift+Enter: new line)'],
  ['Esc', 'stop the answer being written (or close this help)'],
  ['Alt+N', 'new chat'],
  ['Alt+↑ / Alt+↓', 'previous / next session'],
  ['/', 'focus the search'],
  ['i', 'focus the message box'],
  ['Alt+Q', 'queue'],
  ['Alt+C', 'chat'],
  ['Alt+T', 'dark / light'],
  ['?', 'this help'],
];

export function HelpOverlay({ onClose, shortcuts }: { onClose: () => void; shortcuts: [string, string][] }) {
  return (
    <div className="overlay" role="dialog" aria-label="keyboard shortcuts" data-testid="help" onClick={onClose}>
      <div className="help" onClick={(e) => e.stopPropagation()}>
        <h2>keyboard</h2>
        <table>
          <tbody>
            {shortcuts.map(([k, what]) => (
              <tr key={k}>
                <td>
                  <kbd>{k}</kbd>
                </td>
                <td>{what}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <button onClick={onClose}>close</button>
      </div>
    </div>
  );
}
