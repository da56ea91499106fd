/**
 * `--format` values of the commands that print in several forms. They live apart from the
 * commands so that building the command tree (help, completion, parse errors) loads none of them.
 */
export const DAG_FORMATS = ['text', 'mermaid', 'dot'] as const;
export const COMPARE_FORMATS = ['table', 'json', 'csv', 'markdown'] as const;
