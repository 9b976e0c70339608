"""ModelDeployment: serving Deployments and Services per version, Recreate rollouts."""
