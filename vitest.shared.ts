/**
 * Test settings every package shares. Inside the repository, workspace packages resolve to their
 * TypeScript sources through the `source` export condition (what a user installs is the built
 * `dist/`, tested by test/package/).
 */
export const sourceConditions = {
  resolve: { conditions: ['source', 'module', 'node', 'development|production'] },
  ssr: { resolve: { conditions: ['source', 'module', 'node', 'development|production'] } },
};
