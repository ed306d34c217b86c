// ESLint for our own JavaScript: the pages' scripts (static/js, run by browsers) and the Node
// scripts the tests drive (tests/**/js). Run by `make lint`; type checks are jsconfig.json's.
import js from "@eslint/js";
import globals from "globals";

export default [
  {
    // Third-party code and collected static files (collectstatic copies static/ and the vendor
    // builds there) are not ours to lint.
    ignores: ["node_modules/", ".venv/", "var/", "staticfiles/", "test-artifacts/", "bench/out/"],
  },
  js.configs.recommended,
  {
    rules: {
      // `const { dropped, ...kept } = object` is how a key is left out of a copy.
      "no-unused-vars": ["error", { ignoreRestSiblings: true }],
    },
  },
  {
    files: ["static/js/**/*.js"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      globals: globals.browser,
    },
  },
  {
    // Loaded on every page with a plain <script defer> (templates/base.html), not as a module.
    files: ["static/js/app.js"],
    languageOptions: { sourceType: "script" },
  },
  {
    files: ["tests/**/js/**/*.{js,mjs}"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      globals: globals.node,
    },
  },
];
