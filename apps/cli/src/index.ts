// @gemma-ts/cli as a library: the recipe, for apps that run it in-process (apps/train, which
// `pnpm start` runs). Everything else of this package is its `gemma-ts` binary (main.ts).
export { RECIPE_CONFIG_FILE, runRecipe, type RecipeOptions } from "./recipe/recipe.js";
export { readRecipeConfig, type RecipeConfig, recipeConfigSchema } from "./recipe/recipe-config.js";
export { type RecipeReport, recipeSummary } from "./recipe/recipe-report.js";
